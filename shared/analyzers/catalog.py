# ruff: noqa: E501  (one rule per line reads better than wrapped messages)
"""What reviewflow knows about each analyzer's rules.

``CURATED`` holds the rules that run by default: bugs and security problems that are real in
nearly every context, each with our category, severity and a short plain-language message.
Rules a repository adds (``extraRules``) that are not curated still run; they get a category
from their family and the tool's own message.

``known_rules`` is every rule the pinned tool version has (``data/*.txt``, regenerated with
``python -m shared.analyzers.catalog`` after a version bump; a unit test checks they match the
installed binaries), so a rule name in ``.reviewflow.yml`` that the tool does not have is an
error instead of a silent no-op.
"""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from shared.models import Category, Severity

Tool = Literal["ruff", "oxlint", "detect-secrets"]
TOOLS: tuple[Tool, ...] = ("ruff", "oxlint", "detect-secrets")
DATA_DIR = Path(__file__).resolve().parent / "data"

B, S, P, M = Category.BUG, Category.SECURITY, Category.PERFORMANCE, Category.MAINTAINABILITY
CRIT, HIGH, MED, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


@dataclass(frozen=True)
class RuleInfo:
    category: Category
    severity: Severity
    message: str


def _r(category: Category, severity: Severity, message: str) -> RuleInfo:
    return RuleInfo(category, severity, message)


_LEAKED_KEY_TEXT = (
    "This line holds what looks like a real {what}. Anything committed is readable by everyone "
    "with access to the repository and stays in its history: load it from the environment or "
    "a secret store, and revoke this one if it is real."
)

CURATED: dict[Tool, dict[str, RuleInfo]] = {
    "ruff": {
        # security (flake8-bandit)
        "S102": _r(S, HIGH, "`exec()` runs a string as code; any outside input in it is code execution."),
        "S103": _r(S, MED, "These file permissions let other users write or run the file; use a narrow mode such as 0o600."),
        "S105": _r(S, HIGH, "A hard-coded password or key: load it from the environment or a secret store instead of the source."),
        "S106": _r(S, HIGH, "A hard-coded password is passed as an argument: load it from the environment or a secret store."),
        "S107": _r(S, MED, "A hard-coded password is the default of a parameter: take it from configuration instead."),
        "S110": _r(B, MED, "`except ...: pass` silently swallows the error, so failures go unnoticed; handle it, log it, or catch only what you expect."),
        "S112": _r(B, MED, "`except ...: continue` silently skips items that fail; log the error or catch only what you expect."),
        "S113": _r(B, MED, "An HTTP call without `timeout=` can hang this code forever when the server stalls; pass a timeout."),
        "S202": _r(S, HIGH, "`extractall()` on an untrusted archive can write outside the target folder (path traversal through `../` member names); pass `filter=\"data\"` or check every member."),
        "S301": _r(S, HIGH, "Unpickling runs code chosen by whoever made the bytes: on data from outside this process it is remote code execution. Use JSON or another data-only format."),
        "S302": _r(S, HIGH, "`marshal` data from outside can crash or mislead the interpreter; use a data-only format such as JSON."),
        "S306": _r(S, MED, "`tempfile.mktemp()` returns a name another process can take first; use `NamedTemporaryFile` or `mkstemp`."),
        "S307": _r(S, HIGH, "`eval()` runs its argument as Python code; use `ast.literal_eval` or `json.loads` to parse data."),
        "S323": _r(S, HIGH, "An SSL context without certificate checks lets anyone on the network read and change the traffic."),
        "S324": _r(S, MED, "MD5/SHA-1 are broken for security uses; use SHA-256 (or pass `usedforsecurity=False` when it is not a security use)."),
        "S501": _r(S, HIGH, "`verify=False` turns off certificate checks: anyone on the network can read and change this traffic."),
        "S502": _r(S, HIGH, "This SSL/TLS protocol version is broken; use TLS 1.2 or newer."),
        "S503": _r(S, HIGH, "This SSL/TLS protocol version is broken; use TLS 1.2 or newer."),
        "S506": _r(S, HIGH, "`yaml.load` with an unsafe loader builds arbitrary Python objects from the input; use `yaml.safe_load`."),
        "S507": _r(S, HIGH, "Accepting unknown SSH host keys lets a man in the middle take the connection; load known hosts instead."),
        "S602": _r(S, HIGH, "`shell=True` runs the command through the shell, so a value in the string can inject commands; pass a list of arguments without `shell=True`."),
        "S604": _r(S, HIGH, "`shell=True` runs the command through the shell, so a value in the string can inject commands; pass a list of arguments."),
        "S605": _r(S, HIGH, "This runs the command through the shell, so a value in the string can inject commands; use `subprocess.run([...])` with a list of arguments."),
        "S608": _r(S, HIGH, "SQL built from strings (f-string, `%`, `+` or `.format`) lets input change the query (SQL injection); pass values as query parameters instead."),
        "S609": _r(S, HIGH, "A shell wildcard in a command can be abused with crafted file names; list the files explicitly."),
        "S610": _r(S, HIGH, "Django `extra()` with built strings is open to SQL injection; use query parameters."),
        "S611": _r(S, HIGH, "`RawSQL` built from strings is open to SQL injection; use query parameters."),
        "S701": _r(S, HIGH, "Templates rendered without autoescaping let user data inject HTML and script (XSS); enable autoescape."),
        "S702": _r(S, HIGH, "Mako templates do not escape by default, so user data can inject HTML and script (XSS)."),
        # bugs (bugbear, pyflakes, pylint errors, pycodestyle)
        "B006": _r(B, HIGH, "A mutable default (list, dict, set) is created once and shared by every call, so changes leak between calls; default to `None` and create it inside."),
        "B012": _r(B, MED, "`return`/`break`/`continue` in `finally` discards any exception from the `try` block; move it after the `try`."),
        "B015": _r(B, MED, "This comparison's result is thrown away; it was probably meant to be an `assert` or an assignment."),
        "B016": _r(B, MED, "Raising a literal is a TypeError at run time; raise an exception instance."),
        "B020": _r(B, HIGH, "The loop variable overwrites the iterable it loops over."),
        "B023": _r(B, HIGH, "This function uses the loop variable late: every function created in the loop sees its last value; bind it as a default argument."),
        "B025": _r(B, MED, "The same exception is caught twice; the second handler never runs."),
        "B030": _r(B, HIGH, "`except` needs exception classes; this one raises a TypeError when an exception is matched."),
        "B031": _r(B, HIGH, "The `groupby` group is consumed more than once; the second use sees nothing. Turn it into a list first."),
        "B032": _r(B, HIGH, "This is a type annotation, not an assignment (`:` instead of `=`); nothing is stored."),
        "B033": _r(B, MED, "The set literal repeats a value."),
        "B035": _r(B, HIGH, "The dict comprehension uses a constant key, so only the last item is kept."),
        "B039": _r(B, HIGH, "A mutable `ContextVar` default is shared by every context; default to `None`."),
        "E711": _r(B, LOW, "Compare with `None` using `is` / `is not`: `==` calls `__eq__`, which classes may override."),
        "E712": _r(B, LOW, "Do not compare with `True`/`False` using `==`; test the value itself."),
        "E722": _r(B, MED, "A bare `except:` also catches KeyboardInterrupt and SystemExit and hides real errors; catch the exceptions you expect."),
        "F501": _r(B, HIGH, "This `%` format string is invalid and raises at run time."),
        "F502": _r(B, HIGH, "This `%` format expects a mapping but gets something else."),
        "F506": _r(B, HIGH, "This `%` format mixes positional and named placeholders and raises at run time."),
        "F507": _r(B, HIGH, "The `%` format's placeholders and arguments do not match in number; it raises at run time."),
        "F521": _r(B, HIGH, "This `.format` string is invalid and raises at run time."),
        "F522": _r(B, MED, "`.format` gets a keyword argument the string never uses."),
        "F523": _r(B, MED, "`.format` gets a positional argument the string never uses."),
        "F524": _r(B, HIGH, "`.format` lacks an argument the string needs; it raises at run time."),
        "F601": _r(B, HIGH, "The dict literal repeats a key; the earlier value is silently lost."),
        "F631": _r(B, HIGH, "This asserts a non-empty tuple, which is always true: the assert can never fail. Drop the parentheses."),
        "F632": _r(B, HIGH, "`is` compares identity, not value: an equal string or number need not be the same object. Use `==` / `!=`."),
        "F701": _r(B, HIGH, "`break` outside a loop is a SyntaxError."),
        "F702": _r(B, HIGH, "`continue` outside a loop is a SyntaxError."),
        "F706": _r(B, HIGH, "`return` outside a function is a SyntaxError."),
        "F811": _r(B, MED, "This redefines a name that was never used; the first definition is dead, or the wrong one is used."),
        "F821": _r(B, HIGH, "This name is not defined anywhere: the line raises NameError when it runs."),
        "F822": _r(B, HIGH, "`__all__` names something the module does not define."),
        "F823": _r(B, HIGH, "The local variable is used before it is assigned (UnboundLocalError)."),
        "PLE0101": _r(B, HIGH, "`__init__` must not return a value."),
        "PLE0116": _r(B, HIGH, "`continue` in `finally` is a SyntaxError before Python 3.8 and discards errors after it."),
        "PLE0117": _r(B, HIGH, "`nonlocal` names a variable no enclosing function has."),
        "PLE0118": _r(B, HIGH, "The name is used before its `global` declaration."),
        "PLE0302": _r(B, HIGH, "This special method has the wrong number of parameters."),
        "PLE0604": _r(B, HIGH, "`__all__` must contain only strings."),
        "PLE0605": _r(B, HIGH, "`__all__` must be a list or tuple."),
        "PLE0643": _r(B, HIGH, "This index is out of range of the literal sequence: IndexError."),
        "PLE1132": _r(B, HIGH, "The keyword argument is passed twice: TypeError at run time."),
        "PLE1142": _r(B, HIGH, "`await` outside an async function is a SyntaxError."),
        "PLE1205": _r(B, MED, "The logging call has more arguments than the format string uses."),
        "PLE1206": _r(B, MED, "The logging call has fewer arguments than the format string needs."),
        "PLE1300": _r(B, HIGH, "This format string has an unsupported conversion character."),
        "PLE1307": _r(B, HIGH, "The format conversion does not match the argument's type."),
        "PLE1310": _r(B, HIGH, "`strip` with a multi-character string strips characters, not the string; use `removeprefix`/`removesuffix`."),
        "PLE1507": _r(B, HIGH, "`os.getenv` needs a string key and default."),
        "PLE1700": _r(B, HIGH, "`yield from` inside an async function is a SyntaxError."),
        "PLE2502": _r(S, HIGH, "The source holds a bidirectional-text control character that can hide code from reviewers."),
        "PLW0127": _r(B, MED, "The variable is assigned to itself, which does nothing; a different name was probably meant."),
        "PLW0129": _r(B, HIGH, "Asserting a string literal is always true: the assert can never fail."),
        "PLW0177": _r(B, HIGH, "Comparing with NaN is always false; use `math.isnan`."),
        "PLW1501": _r(B, HIGH, "This is not a valid `open()` mode; the call raises ValueError."),
        "PLW1508": _r(B, MED, "`os.getenv`'s default must be a string (or None)."),
        # async
        "ASYNC110": _r(P, MED, "A busy-wait with `sleep` in a loop; wait on an event instead."),
        "ASYNC210": _r(P, HIGH, "A blocking HTTP call inside `async def` stops the whole event loop until it returns; use an async client (httpx.AsyncClient, aiohttp)."),
        "ASYNC220": _r(P, HIGH, "Starting a process with a blocking call inside `async def` stops the event loop; use `asyncio.create_subprocess_exec`."),
        "ASYNC221": _r(P, HIGH, "Running a process with a blocking call inside `async def` stops the event loop; use `asyncio.create_subprocess_exec`."),
        "ASYNC222": _r(P, HIGH, "Waiting for a process with a blocking call inside `async def` stops the event loop."),
        "ASYNC230": _r(P, MED, "Blocking file I/O inside `async def` stops the event loop; use `anyio`/`aiofiles` or a thread."),
        "ASYNC251": _r(P, HIGH, "`time.sleep` inside `async def` blocks the whole event loop; use `await asyncio.sleep(...)`."),
        "RUF006": _r(B, HIGH, "The task from `create_task` is not stored: the event loop keeps only a weak reference, so it can be garbage-collected before it finishes."),
        "RUF018": _r(B, HIGH, "An assignment inside `assert` disappears when Python runs with `-O`."),
        "RUF024": _r(B, HIGH, "`dict.fromkeys` with a mutable value shares one object between all keys."),
        "SIM115": _r(B, MED, "The file is opened without `with`, so it stays open (and unflushed) if anything fails before `close()`; use `with open(...) as f:`."),
        "BLE001": _r(M, LOW, "Catching every `Exception` also hides bugs in this block; catch the exceptions you expect."),
    },
    "oxlint": {
        "eslint/no-eval": _r(S, HIGH, "`eval()` runs a string as JavaScript; any outside input in it is code execution (XSS in a browser). Use `JSON.parse` or a lookup table."),
        "eslint/no-new-func": _r(S, HIGH, "`new Function(...)` compiles a string into code like `eval`; build real functions instead."),
        "eslint/no-implied-eval": _r(S, HIGH, "A string passed to `setTimeout`/`setInterval` is evaluated as code; pass a function."),
        "eslint/no-script-url": _r(S, MED, "A `javascript:` URL is a form of `eval`; attach an event handler instead."),
        "eslint/eqeqeq": _r(B, MED, "`==` converts its operands before comparing (`0 == \"\"` is true), which hides type mix-ups; use `===` / `!==`."),
        "eslint/no-cond-assign": _r(B, HIGH, "The condition assigns (`=`) instead of comparing, so it tests the assigned value and overwrites the variable; use `===`."),
        "eslint/no-debugger": _r(M, MED, "A leftover `debugger` statement pauses the program whenever developer tools are open."),
        "eslint/no-unsafe-finally": _r(B, MED, "Control flow in `finally` overrides the `try`'s return or exception, so errors disappear."),
        "eslint/no-async-promise-executor": _r(B, HIGH, "An async Promise executor loses its errors: a throw inside it never rejects the promise."),
        "eslint/no-self-assign": _r(B, MED, "The value is assigned to itself, which does nothing; a different name was probably meant."),
        "eslint/no-self-compare": _r(B, MED, "Comparing a value with itself is always true (or false for NaN); a different operand was meant."),
        "eslint/no-dupe-keys": _r(B, HIGH, "The object literal repeats a key; the earlier value is silently lost."),
        "eslint/no-dupe-else-if": _r(B, HIGH, "This `else if` repeats an earlier condition, so its branch can never run."),
        "eslint/no-dupe-class-members": _r(B, HIGH, "The class defines this member twice; the first definition is lost."),
        "eslint/valid-typeof": _r(B, HIGH, "`typeof` never returns this string, so the comparison is always false."),
        "eslint/use-isnan": _r(B, HIGH, "Nothing is equal to NaN, not even NaN; use `Number.isNaN(value)`."),
        "eslint/no-compare-neg-zero": _r(B, MED, "`x === -0` is also true for +0; use `Object.is(x, -0)`."),
        "eslint/no-unsafe-negation": _r(B, HIGH, "`!` binds tighter than `in`/`instanceof`: this negates the left operand, not the test."),
        "eslint/no-unsafe-optional-chaining": _r(B, HIGH, "Optional chaining can yield `undefined` here, where it then throws a TypeError."),
        "eslint/no-constant-binary-expression": _r(B, HIGH, "This expression always has the same value, so the check does not test what it seems to."),
        "eslint/no-loss-of-precision": _r(B, MED, "This number literal cannot be represented exactly and silently changes value."),
        "eslint/no-empty": _r(B, MED, "An empty block: an empty `catch` silently swallows errors. Handle or log the error, or leave a comment why it is safe."),
        "eslint/radix": _r(B, LOW, "`parseInt` without a radix reads `0x…` strings as hexadecimal; pass the radix (`parseInt(value, 10)`)."),
        "eslint/no-caller": _r(B, MED, "`arguments.caller`/`callee` are forbidden in strict mode and throw."),
        "eslint/for-direction": _r(B, HIGH, "The loop counter moves away from its end condition, so the loop never ends (or never runs)."),
        "eslint/getter-return": _r(B, HIGH, "This getter does not return a value on every path."),
        "eslint/no-unreachable": _r(B, MED, "This code can never run: it follows a return, throw, break or continue."),
        "eslint/no-const-assign": _r(B, HIGH, "Assigning to a `const` throws a TypeError at run time."),
        "eslint/no-func-assign": _r(B, MED, "This overwrites a function declaration."),
        "eslint/no-ex-assign": _r(B, MED, "Overwriting the caught exception loses the original error."),
        "eslint/no-global-assign": _r(B, HIGH, "This overwrites a read-only global."),
        "eslint/no-import-assign": _r(B, HIGH, "Imported bindings are read-only; this assignment throws."),
        "eslint/no-setter-return": _r(B, MED, "A setter's return value is ignored."),
        "eslint/no-sparse-arrays": _r(B, MED, "An extra comma leaves a hole in the array."),
        "eslint/no-throw-literal": _r(B, MED, "Throw an `Error`, not a literal: a literal carries no stack trace."),
        "oxc/missing-throw": _r(B, HIGH, "The error is created but not thrown."),
        "oxc/bad-min-max-func": _r(B, HIGH, "These nested `Math.min`/`Math.max` calls always return the same constant."),
        "oxc/uninvoked-array-callback": _r(B, HIGH, "Array callbacks are not called on the empty slots of `new Array(n)`."),
        "oxc/const-comparisons": _r(B, HIGH, "This combination of comparisons is always true or always false."),
        "oxc/bad-comparison-sequence": _r(B, HIGH, "`a < b < c` compares a boolean with `c`; split it into two comparisons."),
        "oxc/double-comparisons": _r(B, LOW, "These two comparisons can be written as one."),
        "oxc/erasing-op": _r(B, MED, "Multiplying by zero always gives zero."),
        "unicorn/no-invalid-remove-event-listener": _r(B, HIGH, "`removeEventListener` with a new function removes nothing; pass the same function that was added."),
        "unicorn/no-await-in-promise-methods": _r(B, MED, "`await` inside `Promise.all([...])` runs the promises one after another."),
        "react/no-danger": _r(S, MED, "`dangerouslySetInnerHTML` inserts raw HTML: any user-controlled part can inject script (XSS). Render text, or sanitize the HTML first."),
    },
    "detect-secrets": {
        name: _r(S, CRIT if name != "KeywordDetector" else HIGH, _LEAKED_KEY_TEXT.format(what=what))
        for name, what in (
            ("AWSKeyDetector", "AWS access key"),
            ("ArtifactoryDetector", "Artifactory token"),
            ("AzureStorageKeyDetector", "Azure storage key"),
            ("BasicAuthDetector", "password in a URL"),
            ("CloudantDetector", "Cloudant credential"),
            ("DiscordBotTokenDetector", "Discord bot token"),
            ("GitHubTokenDetector", "GitHub token"),
            ("GitLabTokenDetector", "GitLab token"),
            ("IbmCloudIamDetector", "IBM Cloud IAM key"),
            ("IbmCosHmacDetector", "IBM COS HMAC credential"),
            ("JwtTokenDetector", "JSON Web Token"),
            ("KeywordDetector", "password or secret"),
            ("MailchimpDetector", "Mailchimp key"),
            ("NpmDetector", "npm token"),
            ("OpenAIDetector", "OpenAI key"),
            ("PrivateKeyDetector", "private key"),
            ("PypiTokenDetector", "PyPI token"),
            ("SendGridDetector", "SendGrid key"),
            ("SlackDetector", "Slack token"),
            ("SoftlayerDetector", "SoftLayer credential"),
            ("SquareOAuthDetector", "Square OAuth secret"),
            ("StripeDetector", "Stripe key"),
            ("TelegramBotTokenDetector", "Telegram bot token"),
            ("TwilioKeyDetector", "Twilio key"),
        )
    },
}

# detect-secrets reports a display name per finding; its plugin (our rule id) by that name
SECRET_TYPES: dict[str, str] = {
    "Artifactory Credentials": "ArtifactoryDetector",
    "AWS Access Key": "AWSKeyDetector",
    "Azure Storage Account access key": "AzureStorageKeyDetector",
    "Basic Auth Credentials": "BasicAuthDetector",
    "Cloudant Credentials": "CloudantDetector",
    "Discord Bot Token": "DiscordBotTokenDetector",
    "GitHub Token": "GitHubTokenDetector",
    "GitLab Token": "GitLabTokenDetector",
    "Base64 High Entropy String": "Base64HighEntropyString",
    "Hex High Entropy String": "HexHighEntropyString",
    "IBM Cloud IAM Key": "IbmCloudIamDetector",
    "IBM COS HMAC Credentials": "IbmCosHmacDetector",
    "Public IP (ipv4)": "IPPublicDetector",
    "JSON Web Token": "JwtTokenDetector",
    "Secret Keyword": "KeywordDetector",
    "Mailchimp Access Key": "MailchimpDetector",
    "NPM tokens": "NpmDetector",
    "OpenAI Token": "OpenAIDetector",
    "Private Key": "PrivateKeyDetector",
    "PyPI upload token": "PypiTokenDetector",
    "SendGrid API Key": "SendGridDetector",
    "Slack Token": "SlackDetector",
    "SoftLayer Credentials": "SoftlayerDetector",
    "Square OAuth Secret": "SquareOAuthDetector",
    "Stripe Access Key": "StripeDetector",
    "Telegram Bot Token": "TelegramBotTokenDetector",
    "Twilio API Key": "TwilioKeyDetector",
}

DOCS: dict[Tool, str] = {
    "ruff": "https://docs.astral.sh/ruff/rules/",
    "oxlint": "https://oxc.rs/docs/guide/usage/linter/rules/",
    "detect-secrets": "https://github.com/Yelp/detect-secrets#currently-supported-plugins",
}


def default_rules(tool: Tool) -> tuple[str, ...]:
    return tuple(CURATED[tool])


def rule_info(tool: Tool, rule: str, tool_message: str) -> RuleInfo:
    """Our mapping of one of the tool's rules: the curated entry, else one by rule family."""
    curated = CURATED[tool].get(rule)
    if curated is not None:
        return curated
    message = tool_message.strip().rstrip(".") + "."
    if tool == "detect-secrets":
        return RuleInfo(S, HIGH, _LEAKED_KEY_TEXT.format(what="secret"))
    if tool == "ruff" and rule.startswith("S"):
        return RuleInfo(S, MED, message)
    if tool == "ruff" and rule.startswith(("ASYNC", "PERF")):
        return RuleInfo(P, MED, message)
    return RuleInfo(B, MED, message)


@cache
def known_rules(tool: Tool) -> frozenset[str]:
    """Every rule the pinned version of ``tool`` has."""
    name = {"ruff": "ruff-rules", "oxlint": "oxlint-rules", "detect-secrets": "detect-secrets"}
    lines = (DATA_DIR / f"{name[tool]}.txt").read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def oxlint_rule_id(name: str) -> str | None:
    """``no-eval``, ``eslint/no-eval`` and ``eslint(no-eval)`` → ``eslint/no-eval``."""
    match = re.fullmatch(r"(?:([\w-]+)[/(])?([\w-]+)\)?", name.strip())
    if match is None:
        return None
    plugin, rule = match.group(1), match.group(2)
    known = known_rules("oxlint")
    if plugin is not None:
        plugin = plugin.replace("-", "_")
        candidate = f"{plugin}/{rule}"
        return candidate if candidate in known else None
    for preferred in ("eslint", "oxc", "typescript", "unicorn"):
        if f"{preferred}/{rule}" in known:
            return f"{preferred}/{rule}"
    return next((r for r in sorted(known) if r.endswith(f"/{rule}")), None)


def unknown_rule(tool: Tool, name: str) -> bool:
    """Whether ``name`` names no rule of ``tool`` (Ruff also takes prefixes such as ``S6``)."""
    if tool == "ruff":
        return not any(code.startswith(name) for code in known_rules("ruff")) or not name
    if tool == "oxlint":
        return oxlint_rule_id(name) is None
    return name not in known_rules(tool)


# ---------------------------------------------------------------------------- regeneration


def rules_from_installed_tools() -> dict[str, list[str]]:
    """The rule lists of the installed binaries (what ``data/*.txt`` must hold)."""
    from shared.analyzers.runner import find_tool

    ruff = find_tool("ruff")
    oxlint = find_tool("oxlint")
    secrets = find_tool("detect-secrets")
    if ruff is None or oxlint is None or secrets is None:
        raise RuntimeError("ruff, oxlint and detect-secrets must be installed")
    raw = subprocess.run(
        [ruff, "rule", "--all", "--output-format", "json"], capture_output=True, check=True
    ).stdout
    ruff_codes = sorted({r["code"] for r in json.loads(raw) if r.get("code")})
    listing = subprocess.run([oxlint, "--rules"], capture_output=True, text=True, check=True)
    oxlint_rules = sorted(
        {
            f"{m.group(2)}/{m.group(1)}"
            for m in re.finditer(r"^\| ([a-z0-9-]+)\s+\| ([a-z_0-9]+)\s+\|", listing.stdout, re.M)
        }
    )
    plugins = subprocess.run(
        [secrets, "scan", "--list-all-plugins"], capture_output=True, text=True, check=True
    )
    return {
        "ruff-rules": ruff_codes,
        "oxlint-rules": oxlint_rules,
        "detect-secrets": sorted(p.strip() for p in plugins.stdout.splitlines() if p.strip()),
    }


def write_rule_data() -> None:
    for name, rules in rules_from_installed_tools().items():
        header = f"# {name}: regenerate with `python -m shared.analyzers.catalog`\n"
        (DATA_DIR / f"{name}.txt").write_text(header + "\n".join(rules) + "\n")


if __name__ == "__main__":
    write_rule_data()
    sys.exit(0)
