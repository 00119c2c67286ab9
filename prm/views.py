"""Small pieces shared by the portal's views: role checks and scope declarations."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static

from .roles import role_of


def role_required(*roles: str) -> Callable:
    """Signed in and holding one of ``roles``; otherwise 403 (the page exists for others)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if role_of(request.user) not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def scoped(**models) -> Callable:
    """Declare which model each URL argument names, e.g. ``@scoped(pk=Partner)``.

    The scope sweep in the test suite reads this to check that every such page
    answers 404 for another partner's object.
    """

    def decorator(view):
        view.scope_models = models
        return view

    return decorator


def favicon(request) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever a page links to: send them to the icon."""
    return redirect(static("favicon.svg"), permanent=True)
