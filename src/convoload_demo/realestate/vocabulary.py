"""The catalog's vocabulary, shared by the API, its generator and the assistant's tools."""

TRANSACTION_TYPES = ("sale", "rent")
PROPERTY_TYPES = ("apartment", "house", "penthouse", "studio", "land", "commercial")
STATUSES = ("available", "reserved", "sold", "rented")
AMENITIES = (
    "pool",
    "gym",
    "barbecue",
    "playground",
    "party_room",
    "concierge",
    "elevator",
    "balcony",
    "garden",
    "sauna",
    "coworking",
    "laundry",
)
SORT_ORDERS = ("price_asc", "price_desc", "newest", "area_desc")
