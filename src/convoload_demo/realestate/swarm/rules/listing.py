"""imovel: describe the chosen listing, answer questions about it, offer a visit."""

from __future__ import annotations

from typing import Any

from convoload_demo.realestate.swarm.agents import AGENDAMENTO, BUSCA
from convoload_demo.realestate.swarm.brain import BrainDecision, ToolOutcome
from convoload_demo.realestate.swarm.rules.criteria import parse_criteria, parse_selection
from convoload_demo.realestate.swarm.rules.messages import AMENITY_NAMES, PT, money, say
from convoload_demo.realestate.swarm.rules.state import ConversationState
from convoload_demo.realestate.swarm.rules.text import has, normalize

TOPICS: dict[str, tuple[str, ...]] = {
    "price": ("preco", "valor", "quanto custa", "custa", "price", "how much", "cost", "aluguel", "rent"),
    "condo": ("condominio", "condo", "condo fee", "hoa"),
    "iptu": ("iptu", "property tax", "imposto"),
    "area": ("area", "metragem", "tamanho", "m2", "metros", "size", "square meters", "sqm"),
    "bedrooms": ("quarto", "quartos", "dormitorios", "bedroom", "bedrooms"),
    "suites": ("suite", "suites"),
    "bathrooms": ("banheiro", "banheiros", "bathroom", "bathrooms"),
    "parking": ("vaga", "vagas", "garagem", "parking", "garage"),
    "amenities": ("lazer", "comodidades", "piscina", "academia", "amenities", "pool", "gym", "churrasqueira"),
    "pet": ("pet", "pets", "animal", "animais", "gato", "cachorro", "cat", "dog"),
    "furnished": ("mobiliado", "mobiliada", "mobilia", "moveis", "furnished", "furniture"),
    "address": (
        "endereco",
        "bairro",
        "onde fica",
        "localizacao",
        "rua",
        "address",
        "where",
        "location",
        "neighbourhood",
        "neighborhood",
    ),
    "year": ("construido", "construcao", "year built", "built", "how old"),
}
_EXPLICIT_PRICE = ("preco", "quanto custa", "price", "how much")
_SCHEDULE = ("agendar", "agenda", "visita", "visitar", "marcar", "schedule", "visit", "book", "see it")
_YES = (
    "sim",
    "quero",
    "claro",
    "pode ser",
    "bora",
    "vamos",
    "gostaria",
    "yes",
    "sure",
    "ok",
    "yeah",
    "yep",
    "please",
    "of course",
    "com certeza",
)
_NO = ("nao", "no", "outro", "outra", "outros", "outras", "other", "another", "nope", "not")


def enter(state: ConversationState) -> BrainDecision:
    """Just handed over: fetch the chosen listing."""
    return BrainDecision.call("get_property", property_id=state.selected_id)


def listing_user(state: ConversationState, text: str) -> BrainDecision:
    norm = normalize(text)
    if state.listing is None or state.listing.get("id") != state.selected_id:
        return enter(state)
    if has(norm, *_SCHEDULE):
        return BrainDecision.call(f"transfer_to_{AGENDAMENTO}")
    topics = [topic for topic, words in TOPICS.items() if has(norm, *words)]
    if topics:
        if len(topics) > 1 and not has(norm, *_EXPLICIT_PRICE):
            topics = [t for t in topics if t != "price"]  # "o valor do condomínio" is about the fee
        answers = [answer(topic, state.listing, state.lang) for topic in topics]
        return BrainDecision.say(" ".join([*answers, say(state.lang, "ask_visit")]))
    chosen = parse_selection(text, state.results)
    if chosen is not None and int(chosen["id"]) != state.selected_id:
        state.selected_id = int(chosen["id"])
        return enter(state)
    criteria = parse_criteria(text)
    if criteria.transaction_type or criteria.city or criteria.price_max or criteria.neighbourhoods:
        return BrainDecision.call(f"transfer_to_{BUSCA}")
    if has(norm, *_NO):
        return BrainDecision.say(say(state.lang, "other_listing"))
    if has(norm, *_YES):
        return BrainDecision.call(f"transfer_to_{AGENDAMENTO}")
    return BrainDecision.say(f"{say(state.lang, 'not_understood')} {say(state.lang, 'ask_visit')}")


def listing_result(state: ConversationState, outcome: ToolOutcome) -> BrainDecision:
    if not outcome.ok:
        return BrainDecision.say(f"{say(state.lang, 'unavailable')}")
    state.listing = outcome.result
    state.selected_id = int(outcome.result["id"])
    return BrainDecision.say(f"{describe(outcome.result, state.lang)}\n{say(state.lang, 'ask_visit')}")


def _yes_no(value: Any, lang: str) -> str:
    if lang == PT:
        return "sim" if value else "não"
    return "yes" if value else "no"


def _amenities(listing: dict[str, Any], lang: str) -> str:
    names = [AMENITY_NAMES[lang].get(a, a) for a in listing.get("amenities") or []]
    return ", ".join(names) if names else ("nenhuma" if lang == PT else "none")


def _area(value: Any) -> str:
    """'67' for 67.0, '67.5' otherwise."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _price(listing: dict[str, Any], lang: str) -> str:
    price = money(listing.get("price"), lang)
    if listing.get("transaction_type") == "rent":
        return f"{price}/mês" if lang == PT else f"{price}/month"
    return price


def describe(listing: dict[str, Any], lang: str) -> str:
    """Everything the customer usually asks about, in a few lines."""
    item = listing
    head = str(item.get("title"))
    if str(item.get("neighbourhood")) not in head:
        head += f" — {item.get('neighbourhood')}, {item.get('city')}"
    furnished, pets = _yes_no(item.get("furnished"), lang), _yes_no(item.get("pet_friendly"), lang)
    if lang == PT:
        return "\n".join(
            [
                f"{head} (código #{item.get('id')})",
                f"Preço: {_price(item, lang)}",
                f"Condomínio: {money(item.get('condo_fee'), lang)}/mês · "
                f"IPTU: {money(item.get('iptu_yearly'), lang)}/ano",
                f"Área útil: {_area(item.get('usable_area_m2'))} m² · {item.get('bedrooms')} quartos "
                f"({item.get('suites')} suítes) · {item.get('bathrooms')} banheiros · "
                f"{item.get('parking_spaces')} vagas",
                f"Comodidades: {_amenities(item, lang)}",
                f"Bairro: {item.get('neighbourhood')} · Mobiliado: {furnished} · Aceita pet: {pets}",
            ]
        )
    return "\n".join(
        [
            f"{head} (code #{item.get('id')})",
            f"Price: {_price(item, lang)}",
            f"Condo fee: {money(item.get('condo_fee'), lang)}/month · "
            f"IPTU (property tax): {money(item.get('iptu_yearly'), lang)}/year",
            f"Usable area: {_area(item.get('usable_area_m2'))} m² · {item.get('bedrooms')} bedrooms "
            f"({item.get('suites')} suites) · {item.get('bathrooms')} bathrooms · "
            f"{item.get('parking_spaces')} parking spaces",
            f"Amenities: {_amenities(item, lang)}",
            f"Neighbourhood: {item.get('neighbourhood')} · Furnished: {furnished} · Pets allowed: {pets}",
        ]
    )


def answer(topic: str, item: dict[str, Any], lang: str) -> str:
    """One sentence about one topic, straight from the listing."""
    pt = lang == PT
    if topic == "price":
        return f"O valor é {_price(item, lang)}." if pt else f"The price is {_price(item, lang)}."
    if topic == "condo":
        fee = money(item.get("condo_fee"), lang)
        return f"O condomínio é {fee} por mês." if pt else f"The condo fee is {fee} per month."
    if topic == "iptu":
        tax = money(item.get("iptu_yearly"), lang)
        return f"O IPTU é {tax} por ano." if pt else f"The IPTU (property tax) is {tax} per year."
    if topic == "area":
        usable, total = _area(item.get("usable_area_m2")), _area(item.get("total_area_m2"))
        if pt:
            return f"A área útil é de {usable} m² (área total: {total} m²)."
        return f"The usable area is {usable} m² (total area: {total} m²)."
    if topic in ("bedrooms", "suites", "bathrooms", "parking"):
        key = {"parking": "parking_spaces"}.get(topic, topic)
        count = item.get(key) or 0
        words = {
            "bedrooms": ("quartos", "bedrooms"),
            "suites": ("suítes", "suites"),
            "bathrooms": ("banheiros", "bathrooms"),
            "parking": ("vagas de garagem", "parking spaces"),
        }[topic]
        return f"Tem {count} {words[0]}." if pt else f"It has {count} {words[1]}."
    if topic == "amenities":
        names = _amenities(item, lang)
        return f"Comodidades: {names}." if pt else f"Amenities: {names}."
    if topic == "pet":
        if pt:
            return "Sim, aceita pets." if item.get("pet_friendly") else "Não aceita pets, infelizmente."
        return "Yes, pets are allowed." if item.get("pet_friendly") else "Sorry, pets are not allowed."
    if topic == "furnished":
        if pt:
            return "Sim, é mobiliado." if item.get("furnished") else "Não é mobiliado."
        return "Yes, it is furnished." if item.get("furnished") else "It is not furnished."
    if topic == "address":
        place = (
            f"{item.get('street')}, {item.get('number')} — {item.get('neighbourhood')}, {item.get('city')}"
        )
        return (
            f"Fica em {place} (CEP {item.get('cep')})."
            if pt
            else f"It is at {place} (CEP {item.get('cep')})."
        )
    year = item.get("year_built") or "?"
    return f"Foi construído em {year}." if pt else f"It was built in {year}."
