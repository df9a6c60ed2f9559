"""How a flow's internal failure codes map to the small set the customer sees: exact
codes first, then the shapes the outside-call plumbing gives any system
(`<system>_timeout`, `http_<status>`, ...), then a default. Each flow keeps its own table
(provisioning/customer_codes.py, transfers/customer_codes.py); this is the lookup they
share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeTable:
    codes: Mapping[str, str]
    default: str
    suffixes: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)
    # Codes may carry a detail after this separator (`network_declined:05`); None: never.
    detail_separator: str | None = None

    def lookup(self, failure_code: str) -> str | None:
        """The customer code the table decides, or None when only the default would."""
        code = failure_code
        if self.detail_separator is not None:
            code = failure_code.split(self.detail_separator, 1)[0]
        if code in self.codes:
            return self.codes[code]
        for suffix, customer in self.suffixes.items():
            if code.endswith(suffix) and len(code) > len(suffix):
                return customer
        for prefix, customer in self.prefixes.items():
            if code.startswith(prefix):
                return customer
        return None

    def is_mapped(self, failure_code: str) -> bool:
        """Whether the table (not the default) decides this code."""
        return self.lookup(failure_code) is not None

    def customer_code(self, failure_code: str) -> str:
        return self.lookup(failure_code) or self.default
