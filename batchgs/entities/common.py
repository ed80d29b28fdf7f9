"""Column groups shared by several PX entities (location, product keys)."""

from __future__ import annotations

from batchgs.entities.spec import Column, ColumnType

S = ColumnType.STRING


def location_columns(owner: str) -> tuple[Column, ...]:
    """The writable `location.*` fields of a PX user or account."""
    fields = (
        ("countryName", S, "Country name", "France"),
        ("countryCode", S, "ISO 3166-1 alpha-2 country code", "FR"),
        ("stateName", S, "State or region name", "Île-de-France"),
        ("stateCode", S, "State or region code", "IDF"),
        ("city", S, "City", "Paris"),
        ("street", S, "Street address", "10 rue de Rivoli"),
        ("postalCode", ColumnType.ID, "Postal code, kept as text (leading zeros matter)", "75001"),
        ("continent", S, "Continent", "Europe"),
        ("regionName", S, "Region name", "Western Europe"),
        ("timeZone", S, "IANA time zone name", "Europe/Paris"),
        ("coordinates.latitude", ColumnType.NUMBER, "Latitude in decimal degrees", "48.8566"),
        ("coordinates.longitude", ColumnType.NUMBER, "Longitude in decimal degrees", "2.3522"),
    )
    return tuple(
        Column(
            f"location.{name}",
            typ,
            description=f"{text} of the {owner}",
            example=example,
            varying_width=name == "postalCode",  # 8001, 02139, 75001, SW1A 1AA: never judged by length
        )
        for name, typ, text, example in fields
    )


def property_keys_column(owner: str) -> Column:
    return Column(
        "propertyKeys",
        ColumnType.STRING_LIST,
        required=True,
        description=(
            f"Product keys the {owner} belongs to (comma-separated). Required on create; "
            "may come from --product-key instead of a column"
        ),
        example="AP-XXXXXXXXXX-2",
    )
