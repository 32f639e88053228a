"""The policy layer of nova-api (nova/policy.py + nova/policies/*), compact.

Stein's defaults, in oslo.policy's rule language (a subset: ``rule:``, ``role:``,
``is_admin:True``, ``project_id:%(project_id)s``, ``@`` always, ``!`` never, ``or``).
A controller asks ``authorize(context, "os_compute_api:os-services")``; a refusal is
``PolicyNotAuthorized`` → 403 ``{"forbidden": {"code": 403, "message": "Policy doesn't
allow os_compute_api:os-services to be performed."}}``, as Nova answers.

Who is admin: the context's ``is_admin`` or role ``admin``. With the noauth2 pipeline
(``X-Auth-Token: USER:PROJECT``) the user named ``admin`` gets both (Nova's
NoAuthMiddleware sets ``is_admin`` when ``user_id == 'admin'``), so ``admin:admin`` is an
admin token and ``demo:demo`` is not.
"""

from __future__ import annotations

from typing import Any

from services import exception

RULE_ADMIN_API = "rule:admin_api"
RULE_ADMIN_OR_OWNER = "rule:admin_or_owner"
RULE_ANY = "@"

#: nova/policies/base.py + the rules this API enforces (name -> check string)
RULES: dict[str, str] = {
    "context_is_admin": "role:admin",
    "admin_or_owner": "is_admin:True or project_id:%(project_id)s",
    # Stein: "is_admin:True", where RequestContext.is_admin defaults to context_is_admin
    "admin_api": "is_admin:True or role:admin",
    "os_compute_api:os-services": RULE_ADMIN_API,       # nova/policies/services.py
    "os_compute_api:os-hypervisors": RULE_ADMIN_API,    # nova/policies/hypervisors.py
    "os_compute_api:servers:index": RULE_ANY,           # project_only in the DB API
    "os_compute_api:servers:detail": RULE_ANY,
    "os_compute_api:servers:show": RULE_ANY,
    "os_compute_api:servers:create": RULE_ANY,
    "os_compute_api:servers:delete": RULE_ANY,
}


def check(context: Any, rule: str, target: dict[str, Any] | None = None,
          rules: dict[str, str] | None = None) -> bool:
    """Evaluate the check string of *rule* (a name in RULES) for *context*."""
    rules = RULES if rules is None else rules
    if rule not in rules:
        raise exception.NovaException(f"Policy rule {rule} is not registered")
    target = {"project_id": getattr(context, "project_id", None),
              "user_id": getattr(context, "user_id", None), **(target or {})}
    return _check_str(context, rules[rule], target, rules, depth=0)


def _check_str(context: Any, text: str, target: dict[str, Any], rules: dict[str, str],
               depth: int) -> bool:
    if depth > 10:
        raise exception.NovaException(f"Policy rule recursion too deep: {text}")
    return any(_check_one(context, alt.strip(), target, rules, depth)
               for alt in (text.split(" or ") if text.strip() else [RULE_ANY]))


def _check_one(context: Any, item: str, target: dict[str, Any], rules: dict[str, str],
               depth: int) -> bool:
    if item == "@":
        return True
    if item == "!":
        return False
    kind, _, value = item.partition(":")
    if kind == "rule":
        return value in rules and _check_str(context, rules[value], target, rules,
                                             depth + 1)
    if kind == "role":
        return value.lower() in [r.lower() for r in getattr(context, "roles", [])]
    if kind == "is_admin":
        return bool(getattr(context, "is_admin", False)) == (value.lower() == "true")
    if kind in ("project_id", "user_id"):
        try:
            wanted = value % target
        except (KeyError, TypeError):
            return False
        return getattr(context, kind, None) == wanted
    return False


def authorize(context: Any, action: str, target: dict[str, Any] | None = None) -> None:
    """nova.policy.authorize / context.can: raise PolicyNotAuthorized when *action* is
    not allowed for *context*."""
    if not check(context, action, target):
        raise exception.PolicyNotAuthorized(action=action)
