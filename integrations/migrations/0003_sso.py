"""Single sign-on set-ups: an organisation's identity provider (allauth's SocialApp), the e-mail
domains routed to it, the role mapping, and whether passwords still sign its people in."""

import django.db.models.deletion
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_schedule_resend"),
        ("partners", "0020_retire_drf_tokens"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="SsoSetup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "protocol",
                    models.CharField(
                        choices=[("oidc", "OpenID Connect"), ("saml", "SAML 2.0")], max_length=10
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="on")),
                ("default_role", models.CharField(max_length=20)),
                ("role_claim", models.CharField(blank=True, max_length=200)),
                ("role_map", models.JSONField(blank=True, default=dict)),
                (
                    "password_sign_in",
                    models.BooleanField(
                        default=True,
                        help_text="Off: this organisation's people sign in only through the identity provider.",
                        verbose_name="password sign-in allowed",
                    ),
                ),
                (
                    "idp_enforces_mfa",
                    models.BooleanField(
                        default=False, verbose_name="identity provider enforces two-factor sign-in"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "app",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sso_setup",
                        to="socialaccount.socialapp",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty: the vendor's own staff.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="partners.partner",
                    ),
                ),
            ],
            options={
                "verbose_name": "SSO set-up",
                "verbose_name_plural": "SSO set-ups",
                "ordering": ["partner__name", "id"],
            },
        ),
        migrations.CreateModel(
            name="SsoDomain",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("domain", models.CharField(max_length=253)),
                (
                    "setup",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="domains",
                        to="integrations.ssosetup",
                    ),
                ),
            ],
            options={
                "verbose_name": "SSO e-mail domain",
                "ordering": ["domain"],
            },
        ),
        migrations.AddConstraint(
            model_name="ssosetup",
            constraint=models.UniqueConstraint(
                django.db.models.functions.comparison.Coalesce("partner", models.Value(0)),
                name="sso_one_setup_per_organisation",
            ),
        ),
        migrations.AddConstraint(
            model_name="ssosetup",
            constraint=models.CheckConstraint(
                condition=models.Q(("protocol__in", ["oidc", "saml"])), name="sso_protocol_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="ssosetup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("default_role__in", ("admin", "rep")), ("partner__isnull", False)),
                    models.Q(
                        (
                            "default_role__in",
                            ("channel_manager", "channel_chief", "executive", "finance", "admin"),
                        ),
                        ("partner__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="sso_default_role_fits_organisation",
            ),
        ),
        migrations.AddConstraint(
            model_name="ssosetup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("partner__isnull", True), ("idp_enforces_mfa", False), _connector="OR"
                ),
                name="sso_idp_mfa_only_for_staff",
            ),
        ),
        migrations.AddConstraint(
            model_name="ssodomain",
            constraint=models.UniqueConstraint(fields=("domain",), name="sso_domain_unique"),
        ),
        migrations.AddConstraint(
            model_name="ssodomain",
            constraint=models.CheckConstraint(
                condition=models.Q(("domain", django.db.models.functions.text.Lower("domain"))),
                name="sso_domain_lower_case",
            ),
        ),
    ]
