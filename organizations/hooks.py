"""Extension points for apps that keep data about CERTs (DOMAIN.md §1).

The registry must not depend on the apps built on it, yet some registry rules concern their data:
a CERT with open incidents cannot be deactivated, and a move must re-derive the permissions that
depend on the tree. Such an app registers a function here in its AppConfig.ready(); the registry
services call every registered function, inside their transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from organizations.rules import Violation

# f(cert) -> violations that forbid deactivating `cert` (e.g. it still owns open incidents).
deactivation_checks: list[Callable[..., list[Violation]]] = []
# f(cert) called after `cert` and its subtree moved to a new parent.
after_move: list[Callable[..., None]] = []
