"""What banks write in MT940's `:86:` (information to the account owner), read into a
description, a counterparty and a payment reference.

Three layouts are in use:

- **German structured** (Deutsche Kreditwirtschaft, "Strukturierter Verwendungszweck"):
  a three-digit GVC code, then `?NN` subfields: `?00` posting text, `?10` primanota,
  `?20`-`?29` and `?60`-`?63` purpose, `?30` bank code or BIC, `?31` account or IBAN,
  `?32`/`?33` counterparty name, `?34` text key extension. SEPA purposes carry keywords:
  `EREF+` end-to-end reference, `KREF+`, `MREF+` mandate, `CRED+` creditor id, `SVWZ+`
  the remittance text, `ABWA+`/`ABWE+` ultimate parties. Triodos writes the same with
  `>` instead of `?`.
- **Dutch structured** (ING, ABN AMRO, Rabobank, bunq, Knab): `/CODE/value` pairs such as
  `/TRTP/SEPA OVERBOEKING/IBAN/…/BIC/…/NAME/…/REMI/…/EREF/…`; ING writes the
  counterparty as `/CNTP/<IBAN>/<BIC>/<name>/<city>/` and the remittance as
  `/REMI/USTD//<text>/`.
- **Free text**, up to six lines of 65 characters.

Lines wrap at 65 characters wherever the text is, so a full line joins the next without a
space (`CONTRA ACCOUN` + `T HOLDER`); a shorter line ended a phrase and joins with one.
The German subfields wrap at 27 characters the same way.
"""

import re
from dataclasses import dataclass, field

SWIFT_LINE = 65
GERMAN_PART = 27
GERMAN = re.compile(r"^(\d{3})[?>](\d{2})")
GERMAN_FIELD = re.compile(r"[?>](\d{2})")
SEPA_KEYWORD = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|PURP|COAM|OAMT)\+")
DUTCH_CODES = (
    "TRTP", "CSID", "IBAN", "BIC", "NAME", "REMI", "EREF", "MARF", "ORDP", "BENM", "CNTP",
    "ADDR", "ISDT", "PURP", "RTRN", "ULTC", "ULTD", "ULTB", "SVCL", "BUSP", "PREF", "ID",
    "CDTRREFTP", "CDTRREF", "CD", "ISSR", "CREF", "OCMT", "CHGS",
)  # fmt: skip
DUTCH = re.compile(r"/(" + "|".join(DUTCH_CODES) + r")/")
NOT_PROVIDED = {"", "NOTPROVIDED", "NONREF", "NONE"}


@dataclass(frozen=True)
class Details:
    description: str = ""
    counterparty: str = ""
    payment_reference: str = ""
    counterparty_account: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # the subfields, for `raw`


def lines_join(lines: list[str], width: int = SWIFT_LINE) -> str:
    """Wrapped lines as one text. A line of full width was cut wherever the text was, so
    the next continues it as written (a space it starts with is the text's); a shorter
    line ended a phrase, and the next joins it with one space."""
    text, previous = "", ""
    for line in lines:
        if not line.strip():
            continue
        if not text:
            text = line.strip()
        elif len(previous) >= width:
            text += line.rstrip()
        else:
            text += " " + line.strip()
        previous = line
    return " ".join(text.split())


def details_read(lines: list[str]) -> Details:
    """The `:86:` of one line (its text lines, the first without the tag)."""
    flat = "".join(line.rstrip("\r\n") for line in lines).strip()
    if GERMAN.match(flat):
        return _german(flat)
    # The first line had the 4-character tag in front of it on the file's line.
    text = lines_join([" " * 4 + lines[0], *lines[1:]]) if lines else ""
    if text.startswith("/") and DUTCH.match(text):
        return _dutch(text)
    return Details(description=text)


def _german(flat: str) -> Details:
    code = flat[:3]
    parts: dict[str, list[str]] = {}
    matches = list(GERMAN_FIELD.finditer(flat, 3))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(flat)
        parts.setdefault(match.group(1), []).append(flat[match.end() : end])
    purpose_parts = [
        value for key in sorted(parts) if "20" <= key <= "29" or "60" <= key <= "63"
        for value in parts[key]
    ]  # fmt: skip
    purpose = lines_join(purpose_parts, GERMAN_PART)
    sepa = _sepa(purpose)
    name = lines_join(parts.get("32", []) + parts.get("33", []), GERMAN_PART)
    posting = " ".join(parts.get("00", [""])[0].split())
    remittance = sepa.get("SVWZ", purpose if not sepa else sepa.get("", ""))
    description = ": ".join(filter(None, (posting, remittance)))
    reference = next(
        (sepa[key] for key in ("EREF", "KREF", "MREF") if sepa.get(key, "") not in NOT_PROVIDED),
        "",
    )
    fields = {"gvc": code, **{f"?{key}": "".join(value) for key, value in parts.items()}}
    fields.update({f"{key}+": value for key, value in sepa.items() if key})
    return Details(
        description=description,
        counterparty=name,
        payment_reference=reference,
        counterparty_account="".join(parts.get("31", [])).strip(),
        fields=fields,
    )


def _sepa(purpose: str) -> dict[str, str]:
    """`EREF+123 SVWZ+Invoice 7` → {"EREF": "123", "SVWZ": "Invoice 7"}; text before the
    first keyword under ""."""
    found = list(SEPA_KEYWORD.finditer(purpose))
    if not found:
        return {}
    values = {"": purpose[: found[0].start()].strip()} if found[0].start() else {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(purpose)
        values[match.group(1)] = purpose[match.end() : end].strip()
    return values


def _dutch(text: str) -> Details:
    matches = list(DUTCH.finditer(text))
    values: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip()
        values.setdefault(match.group(1), value.removesuffix("/").strip())
    name, account = values.get("NAME", ""), values.get("IBAN", "")
    if "CNTP" in values:  # ING: /CNTP/<account>/<BIC>/<name>/<city>/
        parts = [*values["CNTP"].split("/"), "", "", ""][:4]
        account, name = account or parts[0], name or parts[2]
    remittance = values.get("REMI", "")
    for prefix in ("USTD//", "USTD/", "STRD/CUR//", "STRD/CUR/", "STRD//"):
        remittance = remittance.removeprefix(prefix)
    remittance = remittance.strip("/ ")
    reference = values.get("EREF", "")
    description = remittance or values.get("TRTP", "") or text
    return Details(
        description=" ".join(description.split()),
        counterparty=" ".join(name.split()),
        payment_reference=remittance if remittance else ("" if reference in NOT_PROVIDED
                                                         else reference),
        counterparty_account=account,
        fields={f"/{key}/": value for key, value in values.items()},
    )  # fmt: skip
