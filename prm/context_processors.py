from .roles import Role, role_of


def roles(request):
    role = role_of(getattr(request, "user", None))
    return {"user_role": role, "Role": Role}
