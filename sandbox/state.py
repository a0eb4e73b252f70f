"""The emulated account, the clock offset and the global fault knobs: one row, defaults from the env.

Defaults come from the sandbox process's environment, so `run_sandbox` can start with knobs set and
`POST /_sandbox/reset` returns to the same starting point:

    SANDBOX_API_KEY (default "sandbox-demo-key"), SANDBOX_ACCOUNT_ACTIVE (1), SANDBOX_PRODUCTS
    ("retain,insights,verify"), SANDBOX_DEFAULT_API_VERSION ("3.0"), SANDBOX_CLAIM_LIMIT (5),
    SANDBOX_LATENCY_MS, SANDBOX_ERROR_RATE, SANDBOX_TIMEOUT_RATE, SANDBOX_HANG_SECONDS,
    SANDBOX_RESET_RATE, SANDBOX_RATE_LIMIT_RATE, SANDBOX_RETRY_AFTER, SANDBOX_FAULT_SEED.
"""

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from sandbox import readings
from sandbox.models import State

DEMO_API_KEY = "sandbox-demo-key"
STATE_ID = 1

FAULT_KNOBS = {
    "latency_ms": float,
    "error_rate": float,
    "error_body": str,  # "json", "html" or "mixed"
    "timeout_rate": float,
    "hang_seconds": float,
    "reset_rate": float,
    "rate_limit_rate": float,
    "retry_after": int,
    "seed": int,
}
_FAULT_ENV = {
    "latency_ms": "SANDBOX_LATENCY_MS",
    "error_rate": "SANDBOX_ERROR_RATE",
    "timeout_rate": "SANDBOX_TIMEOUT_RATE",
    "hang_seconds": "SANDBOX_HANG_SECONDS",
    "reset_rate": "SANDBOX_RESET_RATE",
    "rate_limit_rate": "SANDBOX_RATE_LIMIT_RATE",
    "retry_after": "SANDBOX_RETRY_AFTER",
    "seed": "SANDBOX_FAULT_SEED",
}


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() not in {"1", "0", "true", "false", "yes", "no"}:
        raise ImproperlyConfigured(f"Unexpected value {name}={value}, use 1 or 0")
    return value.lower() in {"1", "true", "yes"}


def default_faults() -> dict[str, Any]:
    faults = {}
    for knob, env_name in _FAULT_ENV.items():
        if os.environ.get(env_name):
            faults[knob] = FAULT_KNOBS[knob](os.environ[env_name])
    return faults


def default_state() -> dict[str, Any]:
    products = os.environ.get("SANDBOX_PRODUCTS")
    return {
        "active": _env_bool("SANDBOX_ACCOUNT_ACTIVE", True),
        "products": [p.strip() for p in products.split(",") if p.strip()]
        if products is not None
        else list(readings.ALL_PRODUCTS),
        "default_api_version": os.environ.get("SANDBOX_DEFAULT_API_VERSION", readings.DEFAULT_API_VERSION),
        "claim_limit": int(os.environ.get("SANDBOX_CLAIM_LIMIT", readings.DEFAULT_CLAIM_LIMIT)),
        "api_key": os.environ.get("SANDBOX_API_KEY") or DEMO_API_KEY,
        "clock_offset_seconds": 0.0,
        "faults": default_faults(),
        "certificate_faults_set": False,
    }


def load() -> State:
    """The state row, created with the defaults on first use."""
    state = State.objects.filter(pk=STATE_ID).first()
    if state is None:
        state, _ = State.objects.get_or_create(pk=STATE_ID, defaults=default_state())
    return state


def restore_defaults() -> State:
    with transaction.atomic():
        state = load()
        for name, value in default_state().items():
            setattr(state, name, value)
        state.faults_revision += 1
        state.save()
    return state


def account_view(state: State) -> dict[str, Any]:
    return {
        "active": state.active,
        "products": state.products,
        "default_api_version": state.default_api_version,
        "claim_limit": state.claim_limit,
        "api_key": state.api_key,
    }


def update_account(fields: dict[str, Any]) -> State:
    """Apply the given account fields; raises ValueError naming a bad one."""
    with transaction.atomic():
        state = load()
        if "active" in fields:
            state.active = bool(fields["active"])
        if "products" in fields:
            products = fields["products"]
            if not isinstance(products, list) or not set(products) <= set(readings.ALL_PRODUCTS):
                raise ValueError(f"products must be a list drawn from {list(readings.ALL_PRODUCTS)}")
            state.products = products
        if "default_api_version" in fields:
            version = readings.API_VERSIONS.get(str(fields["default_api_version"]))
            if version is None:
                raise ValueError("default_api_version must be 3.0 or 4.0")
            state.default_api_version = version
        if "claim_limit" in fields:
            state.claim_limit = int(fields["claim_limit"])
        if "api_key" in fields:
            if not fields["api_key"]:
                raise ValueError("api_key must not be empty")
            state.api_key = str(fields["api_key"])
        state.save()
    return state


def set_faults(knobs: dict[str, Any]) -> State:
    """Replace the global fault knobs; raises ValueError naming an unknown or bad one."""
    faults = {}
    for name, value in knobs.items():
        if name not in FAULT_KNOBS:
            raise ValueError(f"unknown fault knob {name!r}; known: {sorted(FAULT_KNOBS)}")
        try:
            faults[name] = FAULT_KNOBS[name](value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad value for {name}: {value!r}") from exc
    if faults.get("error_body", "mixed") not in {"json", "html", "mixed"}:
        raise ValueError("error_body must be json, html or mixed")
    with transaction.atomic():
        state = load()
        state.faults = faults
        state.faults_revision += 1
        state.save(update_fields=["faults", "faults_revision"])
    return state
