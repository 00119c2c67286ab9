from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    """The claims an enterprise IdP releases: e-mail, names, and the person's groups
    (the IdP's Django groups), which the portal's set-up maps to roles."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "name": user.get_full_name(),
            "preferred_username": user.username,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
