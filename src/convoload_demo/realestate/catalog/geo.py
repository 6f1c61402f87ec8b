"""Cities and neighbourhoods of the generated catalog (approximate real centres), plus distance helpers.

The neighbourhood table drives both the generator (where to place listings, how expensive they are) and
the tests (listings must land near their city), so it lives apart from both.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    name: str
    latitude: float
    longitude: float
    cep_prefix: str  # first five digits of a real CEP in the area
    sale_m2: int  # typical asking price per usable m² for an apartment (BRL)


@dataclass(frozen=True, slots=True)
class City:
    name: str
    state: str
    neighbourhoods: tuple[Neighbourhood, ...]
    weight: float  # share of the generated listings

    @property
    def centre(self) -> tuple[float, float]:
        lats = [n.latitude for n in self.neighbourhoods]
        lons = [n.longitude for n in self.neighbourhoods]
        return sum(lats) / len(lats), sum(lons) / len(lons)

    def neighbourhood(self, name: str) -> Neighbourhood:
        for item in self.neighbourhoods:
            if item.name == name:
                return item
        raise KeyError(name)


N = Neighbourhood
CITIES: tuple[City, ...] = (
    City(
        "São Paulo",
        "SP",
        (
            N("Pinheiros", -23.5670, -46.6920, "05422", 14_000),
            N("Vila Mariana", -23.5890, -46.6350, "04101", 12_000),
            N("Moema", -23.6010, -46.6650, "04077", 14_000),
            N("Butantã", -23.5710, -46.7080, "05508", 9_000),
            N("Itaim Bibi", -23.5850, -46.6770, "04530", 16_000),
            N("Perdizes", -23.5370, -46.6780, "05014", 11_500),
            N("Tatuapé", -23.5400, -46.5760, "03310", 9_000),
            N("Vila Madalena", -23.5560, -46.6910, "05433", 14_000),
        ),
        0.26,
    ),
    City(
        "Rio de Janeiro",
        "RJ",
        (
            N("Leblon", -22.9840, -43.2240, "22440", 24_000),
            N("Ipanema", -22.9840, -43.2040, "22410", 22_000),
            N("Copacabana", -22.9710, -43.1860, "22020", 13_000),
            N("Botafogo", -22.9510, -43.1840, "22250", 13_500),
            N("Barra da Tijuca", -23.0000, -43.3650, "22620", 11_000),
            N("Tijuca", -22.9250, -43.2350, "20520", 8_000),
            N("Flamengo", -22.9330, -43.1750, "22210", 12_000),
        ),
        0.20,
    ),
    City(
        "Belo Horizonte",
        "MG",
        (
            N("Savassi", -19.9380, -43.9340, "30140", 10_500),
            N("Pampulha", -19.8580, -43.9700, "31270", 6_500),
            N("Lourdes", -19.9320, -43.9440, "30170", 12_000),
            N("Funcionários", -19.9330, -43.9300, "30130", 11_000),
            N("Buritis", -19.9760, -43.9700, "30575", 7_000),
            N("Castelo", -19.8870, -44.0010, "31330", 6_000),
        ),
        0.13,
    ),
    City(
        "Curitiba",
        "PR",
        (
            N("Água Verde", -25.4500, -49.2800, "80240", 8_500),
            N("Batel", -25.4420, -49.2870, "80420", 11_500),
            N("Portão", -25.4760, -49.2940, "81070", 6_500),
            N("Bigorrilho", -25.4350, -49.3000, "80730", 10_000),
            N("Centro Cívico", -25.4170, -49.2680, "80530", 9_000),
            N("Ecoville", -25.4370, -49.3400, "81200", 9_500),
        ),
        0.12,
    ),
    City(
        "Porto Alegre",
        "RS",
        (
            N("Moinhos de Vento", -30.0260, -51.2010, "90570", 11_000),
            N("Bela Vista", -30.0410, -51.1940, "90450", 9_500),
            N("Menino Deus", -30.0530, -51.2230, "90130", 7_500),
            N("Petrópolis", -30.0400, -51.1800, "90460", 8_500),
        ),
        0.10,
    ),
    City(
        "Florianópolis",
        "SC",
        (
            N("Centro", -27.5960, -48.5490, "88010", 9_000),
            N("Trindade", -27.5870, -48.5230, "88036", 8_500),
            N("Agronômica", -27.5770, -48.5370, "88025", 10_000),
            N("Itacorubi", -27.5790, -48.5040, "88034", 8_500),
            N("Jurerê", -27.4400, -48.4950, "88053", 16_000),
            N("Campeche", -27.6800, -48.4850, "88063", 9_500),
        ),
        0.11,
    ),
    City(
        "Campinas",
        "SP",
        (
            N("Cambuí", -22.8950, -47.0500, "13024", 8_500),
            N("Taquaral", -22.8700, -47.0550, "13076", 7_500),
            N("Barão Geraldo", -22.8170, -47.0830, "13084", 6_500),
        ),
        0.08,
    ),
)
del N

CITY_BY_NAME: dict[str, City] = {city.name: city for city in CITIES}


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Case- and accent-insensitive key: 'São Paulo' and 'sao paulo' both give 'sao paulo'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) enclosing the circle, so a plain index range can prefilter."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    # Near the poles a degree of longitude shrinks to nothing: fall back to the whole longitude range.
    cos_lat = math.cos(math.radians(lat))
    dlon = 180.0 if cos_lat < 1e-6 else min(180.0, dlat / cos_lat)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon
