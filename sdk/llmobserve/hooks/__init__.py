"""Install/uninstall one hook per HTTP library, only for libraries the host has.

A library already imported is patched now; one that is installed but not yet imported is
patched when the host imports it (a post-import hook on ``sys.meta_path``): the SDK itself
never imports an HTTP library on the host's behalf.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .._internal import capture_internal_exceptions

# library name -> module that must be imported to patch it, and the patch function's module
_HOOKS: dict[str, tuple[str, str]] = {
    "httpx": ("httpx", "httpx_hook"),
    "httpx2": ("httpx2", "httpx_hook"),
    "requests": ("requests", "requests_hook"),
    "urllib3": ("urllib3", "urllib3_hook"),
}

_unpatch: dict[str, Callable[[], None]] = {}
_waiting: set[str] = set()


def _patch(name: str, module: ModuleType) -> None:
    if name in _unpatch:
        return
    with capture_internal_exceptions(f"hook {name}"):
        hook_mod = importlib.import_module(f"{__name__}.{_HOOKS[name][1]}")
        _unpatch[name] = hook_mod.install(module)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of a watched module so we patch right after it executes."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _waiting:
            return None
        _waiting.discard(fullname)  # avoid recursing into ourselves
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            _waiting.add(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                exec_module(module)
                _waiting.discard(fullname)
                _patch(fullname, module)

        spec.loader = _Loader()
        return spec


_finder = _PostImportFinder()


def install(libraries: tuple[str, ...]) -> None:
    for name in libraries:
        if name not in _HOOKS or name in _unpatch:
            continue
        module = sys.modules.get(name)
        if module is not None:
            _patch(name, module)
            continue
        try:
            installed = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            installed = False
        if installed:
            _waiting.add(name)
    if _waiting and _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    _waiting.clear()
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name, undo in list(_unpatch.items()):
        with capture_internal_exceptions(f"unhook {name}"):
            undo()
        _unpatch.pop(name, None)


def installed() -> list[str]:
    return sorted(_unpatch)
