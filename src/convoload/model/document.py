"""Typed views of the JSON documents convoload writes (aggregate.json, the monitor's job summaries).

A document read into one of these models and written back is the same JSON text: unknown keys (written
by a newer convoload, or added by a user's tooling) are kept, defaults are not added, ints stay ints,
and the keys come back in the order they were read. Models are views, not gatekeepers.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

# JSON numbers stay as they were written (an int is not turned into a float).
Number = int | float

# Where a document keeps the order of the keys it was read from: in its __dict__ but outside its fields,
# so that it neither compares nor serialises.
_KEYS = "_document_keys"


class PlainDocument(BaseModel):
    """A document written back with its fields in declared order, then unknown keys.

    For parts with one writer that lists its keys in field order (those of every conversation):
    remembering the order read would double their reading time.
    """

    model_config = ConfigDict(extra="allow")

    def to_document(self) -> dict[str, Any]:
        """The JSON this model was read from (or built with), in the same shape: defaults not added."""
        return self.model_dump(mode="json", exclude_unset=True)


class Document(PlainDocument):
    """A document written back with its keys in the order they were read (or given, when built)."""

    @model_validator(mode="wrap")
    @classmethod
    def _remember_key_order(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        model = handler(data)
        if isinstance(data, dict) and model is not data:
            model.__dict__[_KEYS] = tuple(data)
        return model

    @model_serializer(mode="wrap")
    def _in_key_order(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Fields serialise in declared order and unknown keys after them; a document's writer may have
        # chosen another order (a distributed master's run.json, keys a tool inserted).
        out = handler(self)
        keys = self.__dict__.get(_KEYS)
        if keys is None or not isinstance(out, dict) or tuple(out) == keys:
            return out
        ordered = {key: out[key] for key in keys if key in out}
        ordered.update(out)
        return ordered


__all__ = ["Document", "Number", "PlainDocument"]
