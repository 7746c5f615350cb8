"""API tokens hashed at rest (issue 21): a table of hashed tokens, and every plaintext DRF token
moved into it as a hash (its key keeps working), then deleted."""

import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


LEGACY_PREFIX_LENGTH = 8  # = merchants.models.LEGACY_PREFIX_LENGTH (frozen here)


def hash_plaintext_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("merchants", "ApiToken")
    Integration = apps.get_model("merchants", "Integration")
    names = dict(Integration.objects.values_list("user_id", "name"))
    taken = set(ApiToken.objects.values_list("prefix", flat=True))
    for token in Token.objects.select_related("user").order_by("created"):
        prefix = token.key[:LEGACY_PREFIX_LENGTH]
        if prefix in taken:  # two old keys starting alike: the later one must be reissued
            print(f"\n  API token of user {token.user.username!r} not migrated (prefix "
                  "collision): issue a new one.")
            continue
        taken.add(prefix)
        # the same encoding as rest_framework_api_key.crypto.Sha512ApiKeyHasher
        hashed = "sha512$$" + hashlib.sha512(token.key.encode()).hexdigest()
        ApiToken.objects.create(
            id=f"{prefix}.{hashed}", prefix=prefix, hashed_key=hashed, user_id=token.user_id,
            name=(names.get(token.user_id) or token.user.username)[:50],
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0003_api_integrations'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('authtoken', '0002_auto_20160226_1747'),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.CharField(editable=False, max_length=150, primary_key=True, serialize=False, unique=True)),
                ('prefix', models.CharField(editable=False, max_length=8, unique=True)),
                ('hashed_key', models.CharField(editable=False, max_length=150)),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('name', models.CharField(default=None, help_text='A free-form name for the API key. Need not be unique. 50 characters max.', max_length=50)),
                ('revoked', models.BooleanField(blank=True, default=False, help_text='If the API key is revoked, clients cannot use it anymore. (This cannot be undone.)')),
                ('expiry_date', models.DateTimeField(blank=True, help_text='Once API key expires, clients cannot use it anymore.', null=True, verbose_name='Expires')),
                ('last_used_at', models.DateTimeField(blank=True, help_text='Last request with this token (recorded at most once a minute).', null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'API token',
                'verbose_name_plural': 'API tokens',
                'ordering': ('-created',),
                'abstract': False,
            },
        ),
        migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop),
    ]
