"""Private-registry credentials: which ones the endpoints use, which apply must create, and the
ids that go into the endpoints' `registry` field.

    registry_auth: acme-ghcr                        # must exist on RunPod (by name)
    registry_auth: {name: acme-ghcr, username_env: GHCR_USER, password_env: GHCR_TOKEN}

`plan_registries` (pure) matches what the file names against RunPod's list (`GET /v2/registries`,
names and ids only). A credential that exists is used by its id; one written with its env
names and missing from RunPod is created by `apply` (`create_registries`) before any endpoint is
written, and its id replaces `pending_registry(name)` in the planned bodies. The login is read
from the environment only then, and goes only into the create request: flash.yaml, plans and
output hold the variables' names, never their values.

flashctl never deletes a credential: RunPod cannot say who created one, and an endpoint of
another project (or a pod) may pull with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flashctl.deploy.plan import EndpointPlan, Plan, RegistryPlan
from flashctl.errors import DeployError, InputError
from flashctl.model import Project, RegistryAuth
from flashctl.runpod.client import RunPodClient
from flashctl.runpod.create_body import is_pending_registry, pending_registry


def wanted_registries(project: Project) -> dict[str, tuple[RegistryAuth, tuple[str, ...]]]:
    """The credentials the endpoints name: name -> (how it is declared, the endpoints' RunPod
    names). One name declared with different env variables is an InputError."""
    found: dict[str, tuple[RegistryAuth, tuple[str, ...]]] = {}
    declared: dict[str, list[tuple[str, RegistryAuth]]] = {}
    for endpoint in project.endpoints:
        auth = endpoint.registry_auth
        if auth is None:
            continue
        declared.setdefault(auth.name, []).append((endpoint.key, auth))
    clashes = []
    for name, uses in declared.items():
        forms = {auth for _, auth in uses if auth.creatable}
        if len(forms) > 1:
            keys = ", ".join(f"'{key}'" for key, _ in uses)
            clashes.append(
                f"  registry credential '{name}' is declared with different env variables by "
                f"endpoints {keys}: give each the same username_env and password_env"
            )
            continue
        # The declaration with env names (if any) decides whether apply may create it.
        auth = next(iter(forms)) if forms else uses[0][1]
        names = tuple(project.endpoint(key).runpod_name for key, _ in uses)
        found[name] = (auth, names)
    if clashes:
        raise InputError(f"{project.file}: registry_auth:\n" + "\n".join(clashes))
    return found


def plan_registries(
    project: Project, remote: Sequence[Mapping[str, Any]]
) -> tuple[RegistryPlan, ...]:
    """Each credential the file names, matched by name against RunPod's list (`remote`).

    A name alone that RunPod lacks is an InputError naming the endpoints and what to do. For
    files written when `registry_auth` was a credential id, a name alone also matches an id.
    """
    by_name: dict[str, str] = {}
    for registry in remote:
        by_name.setdefault(str(registry.get("name")), str(registry.get("id")))
    ids = {str(registry.get("id")) for registry in remote}
    plans, missing = [], []
    for name, (auth, endpoints) in wanted_registries(project).items():
        if name in by_name:
            plans.append(RegistryPlan(name, by_name[name], endpoints=endpoints))
        elif auth.creatable:
            plans.append(RegistryPlan(name, None, auth.username_env, auth.password_env, endpoints))
        elif name in ids:  # a credential id, as registry_auth held before it took names
            plans.append(RegistryPlan(name, name, endpoints=endpoints))
        else:
            keys = ", ".join(
                f"'{e.key}'"
                for e in project.endpoints
                if e.registry_auth and e.registry_auth.name == name
            )
            missing.append(
                f"  registry credential '{name}' (registry_auth of endpoint {keys}) does not "
                "exist on RunPod: create it there (Settings > Container Registry Auth), or "
                f"let apply create it: registry_auth: {{name: {name}, username_env: VAR, "
                "password_env: VAR}"
            )
    if missing:
        raise InputError(f"{project.file}:\n" + "\n".join(missing))
    return tuple(plans)


def undeclared(plan: Plan, project: Project) -> list[str]:
    """Why a saved plan's credentials to create are not the file's (empty: they are). The
    variables a login is read from come from flash.yaml, never from a plan file alone: an
    edited plan must not make apply send another variable (the API key, say) to RunPod."""
    declared = {
        name: (auth.username_env, auth.password_env)
        for name, (auth, _) in wanted_registries(project).items()
        if auth.creatable
    }
    return [
        f"registry credential '{r.name}' from ${r.username_env} and ${r.password_env} is not"
        f" declared so in {project.file}"
        for r in to_create(plan)
        if declared.get(r.name) != (r.username_env, r.password_env)
    ]


def registry_ids(registries: Sequence[RegistryPlan]) -> dict[str, str]:
    """name -> id of the credentials RunPod has."""
    return {r.name: r.id for r in registries if r.id is not None}


def to_create(plan: Plan) -> tuple[RegistryPlan, ...]:
    return tuple(r for r in plan.registries if r.id is None)


def unset_variables(plan: Plan, environ: Mapping[str, str]) -> list[str]:
    """One line per env variable a credential to create needs and the environment lacks."""
    lines = []
    for registry in to_create(plan):
        for what, variable in (
            ("username", registry.username_env),
            ("password", registry.password_env),
        ):
            if variable and not environ.get(variable):
                used_by = ", ".join(registry.endpoints)
                lines.append(
                    f"  {variable} is not set: it holds the {what} of registry credential "
                    f"'{registry.name}' (registry_auth of {used_by})"
                )
    return lines


def registry_logins(plan: Plan, environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (username, password) of each credential to create, from the environment; an
    InputError naming every variable that is not set (so nothing is written)."""
    lines = unset_variables(plan, environ)
    if lines:
        raise InputError(
            "Cannot create the registry credentials the endpoints use:\n"
            + "\n".join(lines)
            + "\nSet them (the values are read only now, and only sent to RunPod); nothing was"
            " changed."
        )
    return {
        r.name: (environ[str(r.username_env)], environ[str(r.password_env)])
        for r in to_create(plan)
    }


def create_registries(
    client: RunPodClient,
    plan: Plan,
    logins: Mapping[str, tuple[str, str]],
    progress: Callable[[str], None],
) -> Plan:
    """Create the credentials `plan` needs (one RunPod got meanwhile is used as it is), then
    the plan with their ids in the endpoints' bodies and patches."""
    needed = to_create(plan)
    if not needed:
        return plan
    existing: dict[str, str] = {}
    for listed in client.list_registries():
        existing.setdefault(str(listed.get("name")), str(listed.get("id")))
    ids: dict[str, str] = {}
    for registry in needed:
        if registry.name in existing:
            ids[registry.name] = existing[registry.name]
            progress(f"registry credential {registry.name}: exists ({ids[registry.name]})")
            continue
        progress(f"registry credential {registry.name}: creating")
        username, password = logins[registry.name]
        try:
            created = client.create_registry(registry.name, username, password)
        except DeployError as err:
            raise DeployError(
                f"{err}\nNo endpoint was changed; running `flashctl apply` again is safe."
            ) from None
        ids[registry.name] = str(created["id"])
        progress(f"registry credential {registry.name}: created ({ids[registry.name]})")
    return with_registry_ids(plan, ids)


def with_registry_ids(plan: Plan, ids: Mapping[str, str]) -> Plan:
    """`plan` with `pending_registry(name)` replaced by the credential's id everywhere."""
    pending = {pending_registry(name): ident for name, ident in ids.items()}

    def fill(body: dict[str, Any] | None) -> dict[str, Any] | None:
        if body is None or body.get("registry") not in pending:
            return body
        return {**body, "registry": pending[body["registry"]]}

    def endpoint(planned: EndpointPlan) -> EndpointPlan:
        return dataclasses.replace(planned, body=fill(planned.body), patch=fill(planned.patch))

    registries = tuple(
        dataclasses.replace(r, id=ids[r.name]) if r.id is None and r.name in ids else r
        for r in plan.registries
    )
    return dataclasses.replace(
        plan, endpoints=tuple(map(endpoint, plan.endpoints)), registries=registries
    )


def unresolved(plan: Plan) -> list[str]:
    """The endpoints whose body or patch still holds a pending credential: never to be sent."""
    return [
        planned.name
        for planned in plan.endpoints
        if any(
            is_pending_registry((body or {}).get("registry"))
            for body in (planned.body, planned.patch)
        )
    ]
