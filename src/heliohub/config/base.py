"""Shared building blocks of the config models."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Every config section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, strict=True)


Name = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$",
        description="2 to 32 lower-case letters, digits and '-', starting with a letter",
    ),
]

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class SecretRef(Strict):
    """Where a secret comes from: an environment variable or a file. Never the value itself."""

    env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of an environment variable that holds the secret",
    )
    file: str | None = Field(
        default=None,
        min_length=1,
        description="path of a file that holds the secret (relative to the config file)",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self


class IntRange(Strict):
    """A range offered to users, with the value they get when they ask for nothing."""

    min: PositiveInt
    max: PositiveInt
    default: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"needs min <= default <= max, got min={self.min}, "
                f"default={self.default}, max={self.max}"
            )
        return self


class FloatRange(Strict):
    """Like IntRange, for quantities that may be fractional (GiB of memory)."""

    min: PositiveFloat
    max: PositiveFloat
    default: PositiveFloat

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"needs min <= default <= max, got min={self.min:g}, "
                f"default={self.default:g}, max={self.max:g}"
            )
        return self


class Limits(Strict):
    """A resource guarantee (what is reserved) and limit (what may be used)."""

    guarantee: PositiveFloat
    limit: PositiveFloat

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.guarantee > self.limit:
            raise ValueError(
                f"guarantee must be <= limit, got guarantee={self.guarantee:g}, "
                f"limit={self.limit:g}"
            )
        return self
