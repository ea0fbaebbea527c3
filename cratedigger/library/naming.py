"""Names: where a library lives, tag and sample-name rules, and export file names safe on every OS."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from cratedigger.errors import BadParameterError

ENV_VAR = "CRATEDIGGER_LIBRARY"
MAX_NAME_CHARS = 200
MAX_TAG_CHARS = 64
# Export stems stay well under the 255-byte limit of ext4/APFS/NTFS once the suffixes are added.
MAX_STEM_BYTES = 120

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
# Anything Windows, macOS or a POSIX shell would choke on in a file name becomes "_".
_UNSAFE_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_IMPORT_NAME = "import"


def strip_invisible(text: str) -> str:
    """Drop control and format characters: C0/C1 controls, bidirectional overrides and isolates
    (U+202A-202E, U+2066-2069: a name must not display reversed), zero-width and other invisible
    format marks. Line and paragraph separators become spaces."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Zl", "Zp") or ch in "\t\n\r\x0b\x0c":
            out.append(" ")
        elif cat not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)
    return "".join(out)


def default_root() -> Path:
    """The library folder when neither --root nor CRATEDIGGER_LIBRARY says otherwise."""
    import platformdirs

    return platformdirs.user_data_path("CrateDigger", appauthor=False) / "library"


def resolve_root(root: str | os.PathLike | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """--root wins, then $CRATEDIGGER_LIBRARY, then the platform's user data folder."""
    environ = os.environ if environ is None else environ
    if root is not None and str(root).strip():
        return Path(root).expanduser()
    env = environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return default_root()


def clean_name(name: str) -> str:
    """A sample's display name: trimmed, one line, at most MAX_NAME_CHARS. Raises on empty names."""
    if not isinstance(name, str):
        raise BadParameterError(f"sample name must be text, got {type(name).__name__}")
    text = " ".join(strip_invisible(unicodedata.normalize("NFC", name)).split())
    if not text:
        raise BadParameterError(f"sample name is empty: {name!r}")
    if len(text) > MAX_NAME_CHARS:
        raise BadParameterError(f"sample name is longer than {MAX_NAME_CHARS} characters: {text[:40]!r}...")
    return text


def name_from_stem(stem: str) -> str:
    """An imported file's display name from its file stem: never refused. Blank stems (" .wav") get
    DEFAULT_IMPORT_NAME, long ones are cut at a word boundary to MAX_NAME_CHARS."""
    text = " ".join(strip_invisible(unicodedata.normalize("NFC", str(stem))).split())
    if len(text) > MAX_NAME_CHARS:
        cut = text[: MAX_NAME_CHARS - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > MAX_NAME_CHARS // 2 else cut).rstrip() + "…"
    return text or DEFAULT_IMPORT_NAME


def clean_tag(tag: str) -> str:
    """Tags are lower-case single-spaced words; commas are reserved as the CLI's separator."""
    if not isinstance(tag, str):
        raise BadParameterError(f"tag must be text, got {type(tag).__name__}")
    # format characters (bidi overrides, zero-width marks) go; other controls are refused below
    text = "".join(ch for ch in unicodedata.normalize("NFC", tag) if unicodedata.category(ch) != "Cf")
    text = " ".join(text.split()).lower()
    if not text:
        raise BadParameterError(f"tag is empty: {tag!r}")
    if len(text) > MAX_TAG_CHARS:
        raise BadParameterError(f"tag is longer than {MAX_TAG_CHARS} characters: {text[:40]!r}...")
    if "," in text or _CONTROL.search(text):
        raise BadParameterError(f"tag may not contain commas or control characters: {tag!r}")
    return text


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Clean every tag and drop repeats, keeping first-seen order."""
    if isinstance(tags, str):
        tags = [tags]
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(clean_tag(tag), None)
    return tuple(seen)


def sanitise_stem(text: str, *, fallback: str = "break") -> str:
    """Make `text` safe as a file name stem on Windows, macOS and Linux (no folders, no traversal)."""
    text = strip_invisible(unicodedata.normalize("NFC", str(text)))
    text = _UNSAFE_CHARS.sub("_", text)
    text = re.sub(r"\.{2,}", "_", text)  # no "..": harmless without slashes, but alarming in a file name
    text = "_".join(text.split())  # spaces are legal but awkward in DAW browsers and shells
    text = re.sub(r"_{2,}", "_", text).strip("._ -")
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = f"_{text}"
    encoded = text.encode("utf-8")[:MAX_STEM_BYTES]
    text = encoded.decode("utf-8", errors="ignore").rstrip("._ -")
    return text or fallback


def format_bpm(bpm: float) -> str:
    """Whole BPM for file names: a decimal point would make Audacity's `(\\d+)[_ -.]?bpm` read `87.5bpm` as 5."""
    return str(int(round(float(bpm))))


def export_stem(name: str, *, bpm: float, bars: int) -> str:
    """`{name}_{bpm}bpm_{bars}bar`, with the name part sanitised."""
    return f"{sanitise_stem(name)}_{format_bpm(bpm)}bpm_{int(bars)}bar"


def candidate_names(name: str, *, bpm: float, bars: int, suffix: str = ".wav") -> Iterable[str]:
    """Export file names in order of preference; the counter goes before the BPM so DAWs still parse it."""
    base = sanitise_stem(name)
    tail = f"_{format_bpm(bpm)}bpm_{int(bars)}bar{suffix}"
    yield f"{base}{tail}"
    n = 2
    while True:
        yield f"{base}-{n}{tail}"
        n += 1
