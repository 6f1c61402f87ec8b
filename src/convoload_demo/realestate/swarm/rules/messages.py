"""Everything the rule brain says, in Portuguese and English (the customer simulator keys on these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

PT, EN = "pt", "en"

TEXTS: dict[str, dict[str, str]] = {
    PT: {
        "greeting": "Olá! Sou o assistente virtual da imobiliária. "
        "Você quer comprar ou alugar, e em qual cidade?",
        "ask_tx_city": "Para começar: você quer comprar ou alugar, e em qual cidade?",
        "ask_budget": "Qual o seu orçamento máximo?",
        "ask_bedrooms": "Quantos quartos você precisa?",
        "results_head": "Encontrei {total} imóveis. Os de menor preço:",
        "results_tail": "Quer saber mais sobre algum? É só dizer o número.",
        "no_results": "Não encontrei imóveis com esses critérios. "
        "Quer aumentar o orçamento ou mudar o bairro?",
        "ask_visit": "Quer agendar uma visita?",
        "ask_when": "Para qual dia e horário? Atendemos de segunda a sábado, das 9h às 18h.",
        "closed": "Não fazemos visitas aos domingos.",
        "past": "Esse horário já passou.",
        "outside": "As visitas começam em hora cheia, das 9h às 17h (terminam até as 18h).",
        "taken": "O horário de {when} não está disponível.",
        "offer": "Horários disponíveis: {slots}. Qual prefere?",
        "no_slots": "Não encontrei horários livres nos próximos dias. Pode sugerir outra data?",
        "ask_hour": "Que horário você prefere em {day}? Atendemos das 9h às 18h.",
        "ask_contact": "Para confirmar, preciso do seu nome completo, telefone e e-mail.",
        "slot_ok": "Perfeito, {when}.",
        "missing": "Obrigado! Ainda preciso do seu {fields}.",
        "booked": "Visita agendada! Código {code}, {when}, {title} — {neighbourhood}.",
        "after": "Sua visita já está agendada (código {code}). Até lá! "
        "Se precisar de algo mais, é só chamar.",
        "race": "Esse horário acabou de ser reservado por outra pessoa.",
        "not_understood": "Desculpe, não entendi.",
        "pick_number": "É só dizer o número do imóvel (por exemplo: o 1) ou mudar os critérios.",
        "pick_slot": "Qual destes horários prefere? {slots}.",
        "other_listing": "Tudo bem! Quer ver outras opções? "
        "Me diga o que mudar (bairro, orçamento, quartos).",
        "unavailable": "Desculpe, não consegui consultar o catálogo agora. Pode tentar de novo?",
    },
    EN: {
        "greeting": "Hello! I'm the agency's virtual assistant. "
        "Do you want to buy or rent, and in which city?",
        "ask_tx_city": "To get started: do you want to buy or rent, and in which city?",
        "ask_budget": "What is your maximum budget?",
        "ask_bedrooms": "How many bedrooms do you need?",
        "results_head": "I found {total} listings. The cheapest ones:",
        "results_tail": "Want to know more about one of them? Just tell me the number.",
        "no_results": "I found no listings with these criteria. "
        "Would you like to raise the budget or change the neighbourhood?",
        "ask_visit": "Would you like to schedule a visit?",
        "ask_when": "For which day and time? We are open Monday to Saturday, 9am to 6pm.",
        "closed": "We do not do visits on Sundays.",
        "past": "That time has already passed.",
        "outside": "Visits start on the hour, from 9am to 5pm (ending by 6pm).",
        "taken": "{when} is not available.",
        "offer": "Available times: {slots}. Which one do you prefer?",
        "no_slots": "I found no free times in the next days. Could you suggest another date?",
        "ask_hour": "What time do you prefer on {day}? We are open 9am to 6pm.",
        "ask_contact": "To confirm I need your full name, phone and e-mail.",
        "slot_ok": "Great, {when}.",
        "missing": "Thanks! I still need your {fields}.",
        "booked": "Visit booked! Code {code}, {when}, {title} — {neighbourhood}.",
        "after": "Your visit is already booked (code {code}). See you there! "
        "Let me know if you need anything else.",
        "race": "Someone has just booked that time.",
        "not_understood": "Sorry, I did not understand.",
        "pick_number": "Just tell me the listing's number (for example: number 1) or change the criteria.",
        "pick_slot": "Which of these times do you prefer? {slots}.",
        "other_listing": "No problem! Want to see other options? Tell me what to change "
        "(neighbourhood, budget, bedrooms).",
        "unavailable": "Sorry, I could not reach the catalogue just now. Could you try again?",
    },
}
FIELD_NAMES = {
    PT: {"name": "nome completo", "phone": "telefone", "email": "e-mail"},
    EN: {"name": "full name", "phone": "phone", "email": "e-mail"},
}
AMENITY_NAMES = {
    PT: {
        "pool": "piscina",
        "gym": "academia",
        "barbecue": "churrasqueira",
        "playground": "playground",
        "party_room": "salão de festas",
        "concierge": "portaria 24h",
        "elevator": "elevador",
        "balcony": "varanda",
        "garden": "jardim",
        "sauna": "sauna",
        "coworking": "coworking",
        "laundry": "lavanderia",
    },
    EN: {
        "pool": "pool",
        "gym": "gym",
        "barbecue": "barbecue area",
        "playground": "playground",
        "party_room": "party room",
        "concierge": "24h concierge",
        "elevator": "elevator",
        "balcony": "balcony",
        "garden": "garden",
        "sauna": "sauna",
        "coworking": "coworking",
        "laundry": "laundry",
    },
}


def say(lang: str, key: str, **values: Any) -> str:
    return TEXTS[lang][key].format(**values)


def money(value: Any, lang: str) -> str:
    """R$ with thousands separators: '650.000' in Portuguese, '650,000' in English."""
    try:
        amount = round(float(value))
    except (TypeError, ValueError):
        return "R$ ?"
    text = f"{amount:,}"
    return "R$ " + (text.replace(",", ".") if lang == PT else text)


def slot_text(when: datetime, lang: str) -> str:
    """'24/11 às 10h' or '24/11 at 10:00'."""
    day = when.strftime("%d/%m")
    return f"{day} às {when.hour}h" if lang == PT else f"{day} at {when.hour:02d}:00"


def join(items: list[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " ou " if lang == PT else " or "
    return ", ".join(items[:-1]) + last + items[-1]


def join_and(items: list[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + (" e " if lang == PT else " and ") + items[-1]


def listing_line(position: int, item: dict[str, Any], lang: str) -> str:
    rooms = "quartos" if lang == PT else "bedrooms"
    code = "código" if lang == PT else "code"
    return (
        f"{position}) {item.get('title')} — {money(item.get('price'), lang)} — {item.get('bedrooms', 0)} "
        f"{rooms} — {item.get('neighbourhood')} ({code} #{item.get('id')})"
    )


def results_message(total: int, items: list[dict[str, Any]], lang: str) -> str:
    lines = [say(lang, "results_head", total=total)]
    lines += [listing_line(i, item, lang) for i, item in enumerate(items, start=1)]
    lines.append(say(lang, "results_tail"))
    return "\n".join(lines)
