"""Keys and tokens never reach a file or the screen: a server that echoes the Authorization
header (in an error, in a reply) must not carry them into WORK, OUT or a printed message."""


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with each secret (an API key, a Hub token) replaced by a mark. Values under 8
    characters are placeholders ("EMPTY"), not secrets, and would mangle ordinary text."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[API key]" if not secret.startswith("hf_") else "[token]")
    return text
