"""The two bases of every body: `Schema` for what the API answers, `RequestSchema` for
what it accepts.

A response built from a row is `Schema.model_validate(row)`: its fields are read off the
row's attributes, so the schema names each field once. A request refuses a field it
does not declare (`extra="forbid"`): a misspelt field is a 422, never ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """A response body, readable from an ORM row's attributes."""

    model_config = ConfigDict(from_attributes=True)


class RequestSchema(BaseModel):
    """A request body: fields it does not declare are refused."""

    model_config = ConfigDict(extra="forbid")
