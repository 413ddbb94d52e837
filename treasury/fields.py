"""Model fields Bulwark needs beyond Django's own."""

from decimal import Decimal
from typing import Any

from django.db import models


class ExactDecimalField(models.DecimalField):
    """A DecimalField that holds every digit it allows on every database.

    PostgreSQL's `numeric(max_digits, decimal_places)` is exact. SQLite's `decimal`
    column has NUMERIC affinity and keeps a number as an 8-byte REAL: 15 significant
    digits, so a rate of 123456.1234567891 would come back changed (and the hash chain
    over it would report the line as tampered with). On SQLite the column is TEXT, the
    Decimal's own digits; values are read back as Decimal on both.
    """

    def get_internal_type(self) -> str:
        # Not "DecimalField": SQLite's converter for those reads through a float.
        return "ExactDecimalField"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)
        if value is not None and connection.vendor == "sqlite":
            return format(Decimal(value), "f")  # never exponent notation in the text
        return value
