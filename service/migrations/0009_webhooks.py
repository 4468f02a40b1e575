from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from service.models.webhooks import DeliveryStatus, WebhookFormat
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_audit_log')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('url', fields.CharField(max_length=2048)),
                ('events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', null=True, db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', null=True, db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('format', fields.CharEnumField(default=WebhookFormat.JSON, description='JSON: json\nSLACK: slack\nDISCORD: discord', enum_type=WebhookFormat, max_length=16)),
                ('secret', fields.CharField(max_length=256)),
                ('enabled', fields.BooleanField(default=True)),
            ],
            options={'table': 'webhooks', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook', fields.ForeignKeyField('models.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event', fields.CharField(max_length=64)),
                ('body', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: pending\nDELIVERED: delivered\nFAILED: failed', enum_type=DeliveryStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('response_code', fields.IntField(null=True)),
                ('duration_ms', fields.FloatField(null=True)),
                ('error', fields.TextField(null=True, unique=False)),
                ('history', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_deliveries', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One event for one webhook: the exact body, and what each attempt to POST it got.'},
            bases=['Model'],
        ),
    ]
