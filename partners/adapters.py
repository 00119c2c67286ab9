from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Partners join by invitation or application, never by open sign-up."""

    def is_open_for_signup(self, request) -> bool:
        return False
