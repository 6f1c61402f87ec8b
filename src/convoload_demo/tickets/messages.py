"""Reply templates in pt-BR and English (a friendly WhatsApp attendant tone)."""

from __future__ import annotations

TEMPLATES: dict[str, dict[str, str]] = {
    "pt": {
        "greeting": "Olá! 👋 Seja bem-vindo(a) ao Parque Vale das Araucárias 🌲 Eu sou o assistente virtual "
        "do parque.",
        "optin": "Antes de começar: você aceita receber novidades e promoções pelo WhatsApp? 😊",
        "optin_again": "Só pra confirmar: você aceita receber novidades e promoções pelo WhatsApp? (sim/não)",
        "optin_yes": "Perfeito, obrigado! Você vai receber nossas novidades 🙌",
        "optin_no": "Sem problemas, não vamos te enviar promoções 👍",
        "how_can_i_help": "Como posso ajudar? Posso te passar a localização do parque, contar sobre as "
        "atrações, verificar a disponibilidade de datas e vender ingressos 🎟️",
        "anything_else": "Posso ajudar com mais alguma coisa? Se quiser, já verifico a disponibilidade e "
        "garanto seus ingressos 🎟️",
        "location": "📍 Ficamos na Estrada do Vale, km 12, em Urubici - SC, a cerca de 2h30 de "
        "Florianópolis. Abrimos todos os dias, das 9h às 17h.",
        "attractions": "🌲 No parque você encontra trilhas com cachoeiras, o Arvorar (circuito de arborismo "
        "nas copas das árvores), tirolesa, mirante e cabanas na floresta para se hospedar.",
        "prices": "💰 Ingressos — Parque: adulto {park_adult}; criança (4 a 11 anos), idoso (60+), "
        "gestante e PCD {park_reduced}. Arvorar (entrada + circuito nas árvores): adulto {arv_adult}; demais "
        "categorias {arv_reduced}. Extras: Cabana na Floresta {cabin}/noite e Experiência Tirolesa "
        "{zipline} por pessoa.",
        "hours": "🕘 Abrimos todos os dias, das 9h às 17h (exceto em datas de fechamento).",
        "availability_generic": "📅 Abrimos todos os dias, das 9h às 17h, exceto {closed}. Me diz a data que "
        "eu confiro pra você 😉",
        "date_ok": "Oba, dia {date} está disponível ✅",
        "date_kept": "Para {date} temos disponibilidade ✅",
        "closed": "Poxa, em {date} o parque estará fechado{reason} 😕 A próxima data disponível é {next} — "
        "posso reservar para {next}?",
        "offer_again": "Posso reservar para {next}?",
        "offer_refused": "Sem problemas! Qual outra data você prefere?",
        "period": "{period} temos disponibilidade em {dates} — qual data você prefere?",
        "period_full": "Poxa, {period} o parque estará fechado em todas as datas 😕 Qual outra data você "
        "prefere?",
        "which_month": "Dia {day} de qual mês? Me manda a data no formato dd/mm (ex.: 21/11) 🙂",
        "invalid_date": "Hmm, não consegui entender essa data 🤔 Pode me mandar no formato dd/mm "
        "(ex.: 21/11)?",
        "ask_date": "Para qual data você gostaria dos ingressos?",
        "ask_quantities": "Quantas pessoas vão e de quais categorias? (adulto, criança de 4 a 11 anos, idoso "
        "60+, gestante, PCD)",
        "headcount_note": "Considerei todos como adulto — se tiver criança, idoso, gestante ou PCD é só me "
        "avisar 😉",
        "subtotal_header": "Resumo até aqui: {product} — {date}",
        "subtotal": "Subtotal: {value}",
        "upsell": "Quer adicionar alguma experiência extra? 🌲 Temos a Cabana na Floresta "
        "({cabin}/noite) e a Experiência Tirolesa ({zipline} por pessoa). É só responder cabana, "
        'tirolesa, os dois ou "só os ingressos".',
        "upsell_again": "Quer adicionar a Cabana na Floresta ou a Experiência Tirolesa? (cabana / tirolesa / "
        "os dois / só os ingressos)",
        "upsell_added": "Show! Adicionei {items} ✨",
        "upsell_refused": "Tudo bem, seguimos só com os ingressos 👍",
        "ask_data": "Para finalizar a reserva, me envie seu nome completo, CPF, telefone e e-mail 📝",
        "ask_missing": "Ainda preciso do seu {fields} 📝",
        "cpf_invalid": "Hmm, o CPF {cpf} parece inválido 🤔 Pode conferir e me enviar novamente?",
        "phone_invalid": "Não consegui entender o telefone {phone} 🤔 Pode mandar com DDD? "
        "(ex.: 48 99999-8888)",
        "email_invalid": "Esse e-mail parece inválido 🤔 Pode conferir?",
        "ask_payment": "Tudo certo, {first_name}! Como prefere pagar: PIX ou cartão de crédito?",
        "ask_payment_short": "Como prefere pagar: PIX ou cartão de crédito?",
        "summary_header": "Pedido {order} confirmado! 🎉",
        "summary_product": "Ingresso: {product}",
        "summary_date": "Data: {date}",
        "summary_total": "Total: {value}",
        "summary_method": "Pagamento: {method}",
        "link": "Aqui está o seu link de pagamento ({method}): {url}\nQualquer dúvida é só chamar. "
        "Boa visita! 🌲",
        "done": "Seu pedido {order} já está concluído ✅ Se precisar, o link de pagamento é: {url}",
        "new_order": "Vamos lá, novo pedido! 😊",
        "thanks": "Imagina! 😊",
        "not_understood": "Desculpa, não entendi muito bem 😅",
        "method_pix": "PIX",
        "method_card": "cartão de crédito",
        "product_Parque": "Parque (entrada geral)",
        "product_Arvorar": "Arvorar (entrada + circuito nas árvores)",
        "cabin_item": "Cabana na Floresta ({nights} noite{plural})",
        "zipline_item": "Experiência Tirolesa ({people} {who})",
        "zipline_name": "Experiência Tirolesa",
        "person": "pessoa",
        "people": "pessoas",
        "and": "e",
        "field_name": "nome completo",
        "field_cpf": "CPF",
        "field_phone": "telefone",
        "field_email": "e-mail",
        "reason_maintenance": " para manutenção",
        "reason_christmas": " no Natal",
        "reason_new_year": " no Ano-Novo",
        "week_1": "Na primeira semana de {month}",
        "week_2": "Na segunda semana de {month}",
        "week_3": "Na terceira semana de {month}",
        "week_4": "Na quarta semana de {month}",
        "week_-1": "Na última semana de {month}",
        "month": "Em {month}",
    },
    "en": {
        "greeting": "Hi! 👋 Welcome to Parque Vale das Araucárias 🌲 I'm the park's virtual assistant.",
        "optin": "Before we start: do you accept receiving news and promotions on WhatsApp? 😊",
        "optin_again": "Just to confirm: do you accept receiving news and promotions on WhatsApp? (yes/no)",
        "optin_yes": "Great, thank you! You'll get our news 🙌",
        "optin_no": "No problem, we won't send you promotions 👍",
        "how_can_i_help": "How can I help? I can tell you where the park is, what attractions we have, check "
        "date availability and sell tickets 🎟️",
        "anything_else": "Anything else I can help with? If you like, I can check availability and book your "
        "tickets 🎟️",
        "location": "📍 We're at Estrada do Vale, km 12, in Urubici - SC, about 2h30 from Florianópolis. "
        "We're open every day from 9am to 5pm.",
        "attractions": "🌲 In the park you'll find trails with waterfalls, Arvorar (a treetop circuit), a "
        "zipline, a lookout point and forest cabins to stay in.",
        "prices": "💰 Tickets — Park: adult {park_adult}; child (4 to 11), senior (60+), pregnant woman and "
        "PCD {park_reduced}. Arvorar (admission + treetop circuit): adult {arv_adult}; other categories "
        "{arv_reduced}. Extras: Forest Cabin {cabin}/night and Zipline Experience {zipline} per person.",
        "hours": "🕘 We're open every day from 9am to 5pm (except on closing dates).",
        "availability_generic": "📅 We're open every day from 9am to 5pm, except {closed}. Tell me the date "
        "and I'll check it for you 😉",
        "date_ok": "Great, {date} is available ✅",
        "date_kept": "For {date} we have availability ✅",
        "closed": "Sorry, the park will be closed on {date}{reason} 😕 The next available date is {next} — "
        "shall I book {next} instead?",
        "offer_again": "Shall I book {next} instead?",
        "offer_refused": "No problem! Which other date do you prefer?",
        "period": "{period} we have availability on {dates} — which date do you prefer?",
        "period_full": "Sorry, {period} the park is closed on every date 😕 Which other date do you prefer?",
        "which_month": "Day {day} of which month? Please send the date as dd/mm (e.g. 21/11) 🙂",
        "invalid_date": "Hmm, I couldn't understand that date 🤔 Could you send it as dd/mm (e.g. 21/11)?",
        "ask_date": "For which date would you like the tickets?",
        "ask_quantities": "How many people, and in which categories? (adult, child 4 to 11, senior 60+, "
        "pregnant woman, PCD)",
        "headcount_note": "I counted everyone as adults — if there are children, seniors, pregnant women or "
        "PCD, just let me know 😉",
        "subtotal_header": "Summary so far: {product} — {date}",
        "subtotal": "Subtotal: {value}",
        "upsell": "Would you like to add an extra experience? 🌲 We have the Forest Cabin "
        "({cabin}/night) and the Zipline Experience ({zipline} per person). Just reply cabin, "
        'zipline, both or "just the tickets".',
        "upsell_again": "Would you like to add the Forest Cabin or the Zipline Experience? "
        "(cabin / zipline / both / just the tickets)",
        "upsell_added": "Awesome! I added {items} ✨",
        "upsell_refused": "Alright, just the tickets then 👍",
        "ask_data": "To complete the booking, please send your full name, CPF, phone and e-mail 📝",
        "ask_missing": "I still need your {fields} 📝",
        "cpf_invalid": "Hmm, the CPF {cpf} looks invalid 🤔 Could you check it and send it again?",
        "phone_invalid": "I couldn't understand the phone {phone} 🤔 Could you send it with the area code? "
        "(e.g. 48 99999-8888)",
        "email_invalid": "That e-mail looks invalid 🤔 Could you check it?",
        "ask_payment": "All set, {first_name}! How would you like to pay: PIX or credit card?",
        "ask_payment_short": "How would you like to pay: PIX or credit card?",
        "summary_header": "Order {order} confirmed! 🎉",
        "summary_product": "Ticket: {product}",
        "summary_date": "Date: {date}",
        "summary_total": "Total: {value}",
        "summary_method": "Payment: {method}",
        "link": "Here is your payment link ({method}): {url}\nAny questions, just message us. Enjoy your "
        "visit! 🌲",
        "done": "Your order {order} is already complete ✅ If you need it, the payment link is: {url}",
        "new_order": "Sure, let's start a new order! 😊",
        "thanks": "You're welcome! 😊",
        "not_understood": "Sorry, I didn't quite get that 😅",
        "method_pix": "PIX",
        "method_card": "credit card",
        "product_Parque": "Parque (general admission)",
        "product_Arvorar": "Arvorar (admission + treetop circuit)",
        "cabin_item": "Forest Cabin ({nights} night{plural})",
        "zipline_item": "Zipline Experience ({people} {who})",
        "zipline_name": "Zipline Experience",
        "person": "person",
        "people": "people",
        "and": "and",
        "field_name": "full name",
        "field_cpf": "CPF",
        "field_phone": "phone",
        "field_email": "e-mail",
        "reason_maintenance": " for maintenance",
        "reason_christmas": " for Christmas",
        "reason_new_year": " for New Year's Day",
        "week_1": "In the first week of {month}",
        "week_2": "In the second week of {month}",
        "week_3": "In the third week of {month}",
        "week_4": "In the fourth week of {month}",
        "week_-1": "In the last week of {month}",
        "month": "In {month}",
    },
}

MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "pt": (
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def t(lang: str, key: str, **values: object) -> str:
    """Render one template."""
    return TEMPLATES[lang][key].format(**values)


def join_list(items: list[str], lang: str) -> str:
    """ "a, b e c" / "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {TEMPLATES[lang]['and']} " + items[-1]
