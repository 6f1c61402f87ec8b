"""Cities, neighbourhoods and landmarks the rule brain recognises (catalog spellings)."""

from __future__ import annotations

from convoload_demo.realestate.swarm.rules.text import normalize, padded

# Alias (normalised) -> the catalog's city name.
CITY_ALIASES: dict[str, str] = {
    "sao paulo": "São Paulo",
    "sampa": "São Paulo",
    "rio de janeiro": "Rio de Janeiro",
    "rio": "Rio de Janeiro",
    "belo horizonte": "Belo Horizonte",
    "bh": "Belo Horizonte",
    "beaga": "Belo Horizonte",
    "curitiba": "Curitiba",
    "porto alegre": "Porto Alegre",
    "poa": "Porto Alegre",
    "florianopolis": "Florianópolis",
    "floripa": "Florianópolis",
    "campinas": "Campinas",
}

NEIGHBOURHOODS: dict[str, tuple[str, ...]] = {
    "São Paulo": (
        "Pinheiros",
        "Vila Madalena",
        "Moema",
        "Itaim Bibi",
        "Jardins",
        "Jardim Paulista",
        "Bela Vista",
        "Consolação",
        "Perdizes",
        "Vila Mariana",
        "Tatuapé",
        "Santana",
        "Mooca",
        "Brooklin",
        "Butantã",
        "Liberdade",
        "Higienópolis",
        "Lapa",
        "Santa Cecília",
        "Vila Olímpia",
        "República",
        "Campo Belo",
        "Aclimação",
        "Ipiranga",
        "Saúde",
        "Morumbi",
    ),
    "Rio de Janeiro": (
        "Leblon",
        "Ipanema",
        "Copacabana",
        "Botafogo",
        "Flamengo",
        "Tijuca",
        "Barra da Tijuca",
        "Laranjeiras",
        "Lagoa",
        "Gávea",
        "Jardim Botânico",
        "Humaitá",
        "Recreio dos Bandeirantes",
        "Grajaú",
        "Méier",
        "Leme",
        "Urca",
        "Catete",
        "Glória",
        "Vila Isabel",
    ),
    "Belo Horizonte": (
        "Pampulha",
        "Savassi",
        "Lourdes",
        "Funcionários",
        "Buritis",
        "Sion",
        "Serra",
        "Castelo",
        "Santo Agostinho",
        "Belvedere",
        "Cidade Nova",
        "Gutierrez",
        "Santa Efigênia",
        "Ouro Preto",
        "São Luiz",
        "Liberdade",
        "Anchieta",
        "Cruzeiro",
        "Santa Tereza",
        "Prado",
    ),
    "Curitiba": (
        "Água Verde",
        "Portão",
        "Batel",
        "Bigorrilho",
        "Centro Cívico",
        "Cabral",
        "Ecoville",
        "Juvevê",
        "Alto da XV",
        "Rebouças",
        "Mercês",
        "Santa Felicidade",
        "Boqueirão",
        "Cristo Rei",
        "Bacacheri",
        "Champagnat",
        "Hugo Lange",
        "Jardim Botânico",
        "Campo Comprido",
        "Mossunguê",
    ),
    "Porto Alegre": (
        "Moinhos de Vento",
        "Bela Vista",
        "Petrópolis",
        "Menino Deus",
        "Cidade Baixa",
        "Bom Fim",
        "Mont'Serrat",
        "Auxiliadora",
        "Rio Branco",
        "Tristeza",
        "Higienópolis",
        "Jardim Botânico",
        "Santana",
        "Três Figueiras",
        "Chácara das Pedras",
        "Floresta",
    ),
    "Florianópolis": (
        "Centro",
        "Trindade",
        "Agronômica",
        "Jurerê Internacional",
        "Jurerê",
        "Lagoa da Conceição",
        "Campeche",
        "Itacorubi",
        "Córrego Grande",
        "Santa Mônica",
        "Canasvieiras",
        "Ingleses",
        "Coqueiros",
        "Estreito",
        "João Paulo",
        "Saco Grande",
        "Pantanal",
        "Carvoeira",
    ),
    "Campinas": (
        "Cambuí",
        "Taquaral",
        "Barão Geraldo",
        "Guanabara",
        "Nova Campinas",
        "Castelo",
        "Bosque",
        "Botafogo",
        "Centro",
        "Jardim Chapadão",
        "Mansões Santo Antônio",
        "Swiss Park",
        "Vila Brandina",
        "Jardim Proença",
        "Sousas",
        "Parque Prado",
    ),
}

# "perto da UFMG" -> the neighbourhood(s) around the landmark.
LANDMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ufmg": ("Belo Horizonte", ("Pampulha",)),
    "mineirao": ("Belo Horizonte", ("Pampulha",)),
    "usp": ("São Paulo", ("Butantã",)),
    "avenida paulista": ("São Paulo", ("Bela Vista", "Jardim Paulista", "Consolação")),
    "paulista": ("São Paulo", ("Bela Vista", "Jardim Paulista", "Consolação")),
    "unicamp": ("Campinas", ("Barão Geraldo",)),
    "ufsc": ("Florianópolis", ("Trindade", "Córrego Grande", "Carvoeira")),
    "ufpr": ("Curitiba", ("Centro Cívico", "Juvevê", "Cabral")),
    "ufrgs": ("Porto Alegre", ("Bom Fim", "Cidade Baixa")),
    "puc rio": ("Rio de Janeiro", ("Gávea",)),
}


def find_city(norm: str) -> str | None:
    hay = padded(norm)
    # Longest alias first: "rio de janeiro" before "rio".
    for alias in sorted(CITY_ALIASES, key=len, reverse=True):
        if f" {alias} " in hay:
            return CITY_ALIASES[alias]
    return None


def find_neighbourhoods(norm: str, city: str | None) -> tuple[str | None, list[str]]:
    """(city implied by the neighbourhoods or None, neighbourhoods mentioned), preferring `city`'s."""
    hay = padded(norm)
    cities = [city] if city else list(NEIGHBOURHOODS)
    for candidate in cities:
        names = sorted(NEIGHBOURHOODS.get(candidate, ()), key=len, reverse=True)
        found: list[str] = []
        taken = hay
        for name in names:
            key = padded(normalize(name))
            if key in taken:
                found.append(name)
                taken = taken.replace(key, " ")  # "Jurerê Internacional" is not also "Jurerê"
        if found:
            return candidate, sorted(found, key=lambda n: hay.index(padded(normalize(n))))
    return None, []


def find_landmark(norm: str) -> tuple[str, tuple[str, ...]] | None:
    hay = padded(norm)
    for name in sorted(LANDMARKS, key=len, reverse=True):
        if f" {name} " in hay:
            return LANDMARKS[name]
    return None
