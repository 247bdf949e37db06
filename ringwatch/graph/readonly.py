"""The read-only guard for analyst Cypher: refuses writes before a query reaches the database.

Defence in depth. The second layer is the engines' read-only mode (Neo4j READ access mode,
FalkorDB GRAPH.RO_QUERY); this layer exists because that mode is not enough on its own:
`LOAD CSV` reads server files in read mode on both engines, `SHOW USERS` and `USE system` reach
outside the graph, and an engine upgrade may add a writing procedure the mode does not catch.

The guard works on tokens from a small lexer, never on the raw text, so a keyword inside a string,
a backticked name or a comment is not a keyword, and one hidden by case, unicode look-alikes or
odd whitespace still is. Whenever the lexer and an engine could disagree, the guard leans towards
refusing: a line comment ends at any line-breaking character, keywords are compared after NFKC
and upper-casing, and invisible control or format characters outside literals are refused.

Procedures are allowlisted (a few schema procedures), not denylisted: anything else after `CALL`
is refused, whatever its namespace.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum

from ringwatch.errors import BadQuery, Forbidden, Problem


class Kind(Enum):
    WORD = "word"  # unquoted identifier or keyword
    QUOTED = "quoted"  # `backticked` identifier: never a keyword
    STRING = "string"
    NUMBER = "number"
    PARAM = "param"  # $name or $0
    PUNCT = "punct"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # as written (quotes and backticks included)
    start: int
    end: int
    line: int
    column: int

    @property
    def word(self) -> str:
        """The keyword this token would be, if it were one ('' for literals and names)."""
        if self.kind is not Kind.WORD:
            return ""
        return unicodedata.normalize("NFKC", self.text).upper()

    @property
    def name(self) -> str:
        """The identifier it spells: backticks removed, for procedure names and aliases."""
        if self.kind is Kind.QUOTED:
            return self.text[1:-1].replace("``", "`")
        return self.text


# Clause and command keywords that write, administer or leave the graph. Admin commands all start
# with one of these verbs (CREATE/DROP/ALTER/RENAME/GRANT/DENY/REVOKE/START/STOP/ENABLE/...).
WRITE_WORDS = frozenset(
    {
        "CREATE",
        "MERGE",
        "SET",
        "DELETE",
        "DETACH",
        "NODETACH",
        "REMOVE",
        "FOREACH",
        "INSERT",  # GQL synonym of CREATE in Neo4j 5
        "LOAD",  # LOAD CSV reads server files and URLs even in read mode
        "TRANSACTIONS",  # CALL { ... } IN TRANSACTIONS, SHOW/TERMINATE TRANSACTIONS
        "PERIODIC",  # USING PERIODIC COMMIT (Neo4j 4, FalkorDB's grammar)
        "DROP",
        "ALTER",
        "RENAME",
        "GRANT",
        "DENY",
        "REVOKE",
        "START",
        "STOP",
        "ENABLE",
        "DEALLOCATE",
        "REALLOCATE",
        "TERMINATE",
        "USE",  # other databases, `system` included
    }
)

# Only meaningful as the first word; refused there so plans and query options stay server-side.
LEADING_WORDS = frozenset({"EXPLAIN", "PROFILE", "CYPHER"})

# Procedures that only read the schema. Compared case-insensitively: a case variant either names
# the same read-only procedure or none at all.
_READ_PROCEDURE_NAMES = (
    "db.labels",
    "db.relationshipTypes",
    "db.propertyKeys",
    "db.schema.visualization",
    "db.schema.nodeTypeProperties",
    "db.schema.relTypeProperties",
    "db.indexes",  # FalkorDB; gone from Neo4j 5 (use SHOW INDEXES)
    "db.constraints",  # FalkorDB; gone from Neo4j 5 (use SHOW CONSTRAINTS)
)
READ_PROCEDURES = frozenset(name.casefold() for name in _READ_PROCEDURE_NAMES)

# Function namespaces refused outright: APOC and GDS functions include ones that run arbitrary
# Cypher (apoc.cypher.runFirstColumn*, out of the guard's sight) or reach files and URLs.
FUNCTION_NAMESPACES_REFUSED = frozenset({"apoc", "gds", "dbms", "tx"})

# SHOW is allowed for schema listings only; SHOW USERS / ROLES / DATABASES / TRANSACTIONS / ...
# describe the server, not the graph.
SHOW_MODIFIERS = frozenset(
    {
        "ALL", "RANGE", "TEXT", "POINT", "LOOKUP", "FULLTEXT", "VECTOR", "BTREE", "UNIQUE",
        "UNIQUENESS", "EXIST", "EXISTENCE", "EXISTS", "NODE", "RELATIONSHIP", "REL", "KEY",
        "PROPERTY", "TYPE",
    }
)  # fmt: skip
SHOW_OBJECTS = frozenset({"INDEX", "INDEXES", "CONSTRAINT", "CONSTRAINTS"})

# Any of these ends a `//` comment for the guard. Engines end it at \n or \r; ending it earlier
# only makes the guard read more text as code, which can refuse more but never let more through.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_PUNCT2 = ("<>", "<=", ">=", "=~", "+=", "->", "<-", "::", "..", "||", "!=")


def _word_start(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def _word_part(ch: str) -> bool:
    return ch == "_" or ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc", "Pc")


def _refuse_char(ch: str) -> bool:
    # Control and format characters (zero-width space, BOM, bidi overrides) are where a lexer and
    # an engine would most likely disagree about word boundaries.
    return not ch.isspace() and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn")


def tokenize(query: str) -> list[Token]:
    """Tokens without whitespace and comments. Raises BadQuery for text no engine would lex."""
    tokens: list[Token] = []
    i, n = 0, len(query)
    line, line_start = 1, 0

    def position(at: int) -> tuple[int, int]:
        return line, at - line_start + 1

    def bad(reason: str, at: int) -> BadQuery:
        ln, col = position(at)
        return BadQuery(
            f"{reason} (line {ln}, column {col})",
            [Problem(field="query", reason=f"{reason} at line {ln}, column {col}")],
        )

    def advance_lines(start: int, end: int) -> None:
        nonlocal line, line_start
        for k in range(start, end):
            if query[k] == "\n":
                line += 1
                line_start = k + 1

    while i < n:
        ch = query[i]
        start = i
        if ch.isspace():
            i += 1
        elif query.startswith("//", i):
            while i < n and query[i] not in _LINE_BREAKS:
                i += 1
        elif query.startswith("/*", i):
            close = query.find("*/", i + 2)
            if close < 0:
                raise bad("unterminated /* comment", i)
            i = close + 2
        elif ch in "'\"":
            i += 1
            while i < n and query[i] != ch:
                i += 2 if query[i] == "\\" else 1
            if i >= n:
                raise bad("unterminated string literal", start)
            i += 1
            tokens.append(Token(Kind.STRING, query[start:i], start, i, *position(start)))
        elif ch == "`":
            i += 1
            while True:
                close = query.find("`", i)
                if close < 0:
                    raise bad("unterminated `backticked` name", start)
                if query.startswith("``", close):
                    i = close + 2
                    continue
                i = close + 1
                break
            tokens.append(Token(Kind.QUOTED, query[start:i], start, i, *position(start)))
        elif ch == "$":
            i += 1
            if i < n and query[i] == "`":
                close = query.find("`", i + 1)
                if close < 0:
                    raise bad("unterminated `backticked` parameter", start)
                i = close + 1
            else:
                while i < n and _word_part(query[i]):
                    i += 1
            tokens.append(Token(Kind.PARAM, query[start:i], start, i, *position(start)))
        elif ch.isdigit():
            # Digits only (and a fraction when a digit follows the dot): letters after a number
            # start a new word, so `1CREATE` still shows the guard a CREATE.
            while i < n and query[i].isdigit():
                i += 1
            if i + 1 < n and query[i] == "." and query[i + 1].isdigit():
                i += 1
                while i < n and query[i].isdigit():
                    i += 1
            tokens.append(Token(Kind.NUMBER, query[start:i], start, i, *position(start)))
        elif _word_start(ch):
            while i < n and _word_part(query[i]):
                i += 1
            tokens.append(Token(Kind.WORD, query[start:i], start, i, *position(start)))
        elif _refuse_char(ch):
            raise bad(f"unexpected character U+{ord(ch):04X}", i)
        else:
            size = 2 if query[i : i + 2] in _PUNCT2 else 1
            i += size
            tokens.append(Token(Kind.PUNCT, query[start:i], start, i, *position(start)))
        advance_lines(start, i)
    return tokens


def _refused(what: str, token: Token, why: str) -> Forbidden:
    where = f"line {token.line}, column {token.column}"
    return Forbidden(
        f"{what} is not allowed: {why}",
        [Problem(field="query", reason=f"{what} at {where}")],
    )


def _is_name_position(tokens: list[Token], k: int) -> bool:
    """True when tokens[k] can only be a name: a property key (`n.set`) or a label/type (`:Set`).

    The dot must follow something a property can be read from; after a number (`1.`) it might be
    a decimal point, and then the word after it is treated as a possible keyword.
    """
    if k == 0:
        return False
    prev = tokens[k - 1]
    if prev.kind is Kind.PUNCT and prev.text == ":":
        return True
    if prev.kind is Kind.PUNCT and prev.text == "." and k >= 2:
        before = tokens[k - 2]
        return before.kind in (Kind.WORD, Kind.QUOTED, Kind.PARAM) or before.text in (")", "]", "}")
    return False


def _dotted_name(tokens: list[Token], k: int) -> tuple[list[str], int]:
    """`a.b.c` from tokens[k]; returns the parts and the index after the name."""
    parts = [tokens[k].name]
    k += 1
    while (
        k + 1 < len(tokens)
        and tokens[k].text == "."
        and tokens[k + 1].kind in (Kind.WORD, Kind.QUOTED)
    ):
        parts.append(tokens[k + 1].name)
        k += 2
    return parts, k


def _matching(tokens: list[Token], k: int) -> int:
    """Index of the bracket closing tokens[k] (or len(tokens) if unbalanced)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opener, closer = tokens[k].text, pairs[tokens[k].text]
    depth = 0
    for j in range(k, len(tokens)):
        if tokens[j].kind is not Kind.PUNCT:
            continue
        if tokens[j].text == opener:
            depth += 1
        elif tokens[j].text == closer:
            depth -= 1
            if depth == 0:
                return j
    return len(tokens)


def _check_call(tokens: list[Token], k: int) -> None:
    call = tokens[k]
    if k + 1 >= len(tokens):
        raise _refused("CALL", call, "CALL must name a read-only procedure or open a subquery")
    nxt = tokens[k + 1]
    if nxt.text == "{":
        return  # a subquery: its tokens are checked like the rest of the query
    if nxt.text == "(":
        # CALL (a, b) { ... }: a scoped subquery, once the variable list closes.
        close = _matching(tokens, k + 1)
        if close + 1 < len(tokens) and tokens[close + 1].text == "{":
            return
        raise _refused("CALL", call, "CALL must name a read-only procedure or open a subquery")
    if nxt.kind not in (Kind.WORD, Kind.QUOTED):
        raise _refused("CALL", call, "CALL must name a read-only procedure or open a subquery")
    parts, _ = _dotted_name(tokens, k + 1)
    name = ".".join(parts)
    if unicodedata.normalize("NFKC", name).casefold() not in READ_PROCEDURES:
        raise _refused(
            f"CALL {name}",
            call,
            "only the schema procedures "
            + ", ".join(_READ_PROCEDURE_NAMES)
            + " may be called here",
        )


def _check_show(tokens: list[Token], k: int) -> None:
    j = k + 1
    while j < len(tokens) and tokens[j].word in SHOW_MODIFIERS:
        j += 1
    if j < len(tokens) and tokens[j].word in SHOW_OBJECTS:
        return
    what = "SHOW " + (tokens[j].text if j < len(tokens) else "")
    raise _refused(what.strip(), tokens[k], "only SHOW INDEXES and SHOW CONSTRAINTS are allowed")


def check_read_only(query: str) -> None:
    """Raise Forbidden naming the first write, admin or out-of-graph construct in `query`;
    BadQuery if it cannot be lexed. A query that passes may still be bad Cypher."""
    tokens = tokenize(query)
    if not tokens:
        raise BadQuery("empty query", [Problem(field="query", reason="empty")])
    if tokens[0].word in LEADING_WORDS:
        raise _refused(tokens[0].word, tokens[0], "query options and plans are not exposed here")
    for k, token in enumerate(tokens):
        if token.kind is Kind.PUNCT and token.text == ";":
            raise _refused("';'", token, "one statement per request")
        if token.kind is not Kind.WORD or _is_name_position(tokens, k):
            continue
        word = token.word
        if word in WRITE_WORDS:
            label = "DETACH DELETE" if word == "DETACH" else "LOAD CSV" if word == "LOAD" else word
            raise _refused(label, token, "this endpoint is read-only")
        if word == "CALL":
            _check_call(tokens, k)
        elif word == "SHOW":
            _check_show(tokens, k)
        elif (
            word.lower() in FUNCTION_NAMESPACES_REFUSED
            and k + 1 < len(tokens)
            and tokens[k + 1].text == "."
        ):
            parts, after = _dotted_name(tokens, k)
            if after < len(tokens) and tokens[after].text == "(":
                raise _refused(
                    ".".join(parts), token, f"{word.lower()}.* functions are not allowed here"
                )


@dataclass(frozen=True)
class Projection:
    """What the query's last top-level RETURN produces: whether there is one, and the column
    names in order when they can be read off the text (None for `RETURN *`)."""

    returns: bool
    columns: list[str] | None


_RETURN_END = frozenset({"ORDER", "SKIP", "OFFSET", "LIMIT", "UNION"})


def projection(query: str) -> Projection:
    """The final top-level RETURN's columns as the engine names them: the alias after AS, else
    the expression exactly as written (FalkorDB's naming)."""
    tokens = tokenize(query)
    depth = 0
    last_return = -1
    for k, token in enumerate(tokens):
        if token.kind is Kind.PUNCT and token.text in "([{":
            depth += 1
        elif token.kind is Kind.PUNCT and token.text in ")]}":
            depth -= 1
        elif depth == 0 and token.word == "RETURN" and not _is_name_position(tokens, k):
            last_return = k
    if last_return < 0:
        return Projection(returns=False, columns=None)
    k = last_return + 1
    if k < len(tokens) and tokens[k].word == "DISTINCT":
        k += 1
    items: list[list[Token]] = [[]]
    depth = 0
    while k < len(tokens):
        token = tokens[k]
        if depth == 0 and token.word in _RETURN_END:
            break
        if token.kind is Kind.PUNCT and token.text in "([{":
            depth += 1
        elif token.kind is Kind.PUNCT and token.text in ")]}":
            depth -= 1
        if depth == 0 and token.text == ",":
            items.append([])
        else:
            items[-1].append(token)
        k += 1
    columns: list[str] = []
    for item in items:
        if not item or (len(item) == 1 and item[0].text == "*"):
            return Projection(returns=True, columns=None)
        if len(item) >= 3 and item[-2].word == "AS" and item[-1].kind in (Kind.WORD, Kind.QUOTED):
            columns.append(item[-1].name)
        else:
            columns.append(query[item[0].start : item[-1].end])
    return Projection(returns=True, columns=columns)
