"""What a store URL's password becomes in anything shown or kept (messages, the audit)."""

from __future__ import annotations

import re

_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]*@")


def mask_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", text)
