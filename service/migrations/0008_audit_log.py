from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_token_roles')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('token_id', fields.IntField(null=True, db_index=True)),
                ('token_name', fields.CharField(null=True, max_length=64)),
                ('role', fields.CharField(null=True, max_length=16)),
                ('method', fields.CharField(max_length=8)),
                ('route', fields.CharField(max_length=255)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('target_kind', fields.CharField(null=True, max_length=32)),
                ('target_id', fields.IntField(null=True)),
                ('status', fields.IntField()),
                ('request_id', fields.CharField(max_length=64)),
                ('source', fields.CharField(null=True, max_length=64)),
                ('changed_fields', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'indexes': [Index(fields=['target_kind', 'target_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DeployHook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.OneToOneField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='deploy_hook', on_delete=OnDelete.CASCADE)),
                ('secret', fields.CharField(max_length=128)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'deploy_hooks', 'app': 'models', 'pk_attr': 'id', 'table_description': "An app's incoming deploy hook: the HMAC key its callers sign request bodies with."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Deployment',
            name='actor',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Deployment',
            name='created_by',
            field=fields.ForeignKeyField('models.ApiToken', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Task',
            name='actor',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Task',
            name='created_by',
            field=fields.ForeignKeyField('models.ApiToken', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
    ]
