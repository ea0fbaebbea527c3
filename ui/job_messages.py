"""What a running job tells the GUI thread before it finishes: small frozen dataclasses, one per
kind of news, dispatched by type. A job posts them with `ctx.post(...)`; the submitter says which
types it handles, and anything else is an error, not something quietly dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping


class JobMessage:
    """Base of every message a job may post (the type is the address)."""


class UnhandledMessageError(TypeError):
    """A job posted a message its submitter has no handler for, or something that is no message."""


@dataclass(frozen=True)
class ModelLoaded(JobMessage):
    """The model is in memory: which one, on which device (tasks.describe_model)."""

    info: Mapping[str, Any]

    @property
    def device(self) -> str:
        return str(self.info.get("device", ""))

    @property
    def ref(self) -> str:
        return str(self.info.get("ref", ""))


@dataclass(frozen=True)
class CandidatesReady(JobMessage):
    """One finished batch of a generation or of variations, in the order the engine made them."""

    candidates: tuple[Any, ...]


Handlers = Mapping[type, Callable[[Any], None]]


def check_message(message: Any) -> JobMessage:
    if not isinstance(message, JobMessage):
        raise UnhandledMessageError(f"a job may only post JobMessages, not {type(message).__name__}")
    return message


def check_handlers(handlers: Handlers) -> None:
    for kind in handlers:
        if not (isinstance(kind, type) and issubclass(kind, JobMessage)):
            raise UnhandledMessageError(f"handlers are keyed by JobMessage types, not {kind!r}")


def dispatch(handlers: Handlers, message: Any) -> None:
    """Call the handler registered for exactly this message's type; raise for any other."""
    handler = handlers.get(type(check_message(message)))
    if handler is None:
        raise UnhandledMessageError(f"nothing handles {type(message).__name__} here")
    handler(message)
