"""Unit tests for streaming text assembly: whole characters only, stop strings held back and cut."""

from engine.detok import IncrementalDecoder, StopMatcher


class ByteTokenizer:
    """Each token is one UTF-8 byte, so multi-byte characters span several tokens."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


def stream(text: str) -> list[str]:
    dec = IncrementalDecoder(ByteTokenizer())
    chunks = [dec.push([b]) for b in text.encode("utf-8")]
    chunks.append(dec.flush())
    return [c for c in chunks if c]


def test_multibyte_characters_are_never_split() -> None:
    text = "façade — 日本語 ✓ done"
    chunks = stream(text)
    assert "".join(chunks) == text
    assert all("\ufffd" not in c for c in chunks)
    assert "日" in chunks  # a 3-byte character arrives whole, as its own chunk


def feed_all(stops: tuple[str, ...], pieces: list[str]) -> tuple[str, StopMatcher]:
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(p) for p in pieces)
    if not matcher.stopped:
        out += matcher.finish()
    return out, matcher


def test_stop_string_across_chunks_is_cut_and_never_emitted() -> None:
    out, matcher = feed_all(("\n## ",), ["Context text.", "\n", "#", "# Decision"])
    assert matcher.stopped
    assert out == "Context text." == matcher.text


def test_partial_stop_prefix_is_released_when_it_turns_out_harmless() -> None:
    matcher = StopMatcher(("END",))
    assert matcher.feed("The EN") == "The "  # "EN" might start END: held back
    assert matcher.feed("D-USER") == ""
    assert matcher.stopped and matcher.text == "The "
    out, m2 = feed_all(("END",), ["The EN", "GINE runs"])
    assert out == "The ENGINE runs" and not m2.stopped


def test_earliest_of_several_stop_strings_wins() -> None:
    out, _ = feed_all(("B", "A"), ["xxAyyB"])
    assert out == "xx"
