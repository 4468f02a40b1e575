from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from service.models.apps import AppStatus
from service.models.deployments import DeploymentStatus
from service.models.tasks import TaskKind, TaskStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_tokens', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Server',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('host', fields.CharField(max_length=253)),
                ('port', fields.IntField(default=22)),
                ('root_username', fields.CharField(default='root', max_length=32)),
                ('app_username', fields.CharField(default='deploy', max_length=32)),
                ('use_ssh_agent', fields.BooleanField(default=False)),
                ('manual_key_path', fields.CharField(null=True, max_length=1024)),
                ('setup_complete', fields.BooleanField(default=False)),
                ('security_locked', fields.BooleanField(default=False)),
            ],
            options={'table': 'servers', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='App',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='apps', on_delete=OnDelete.CASCADE)),
                ('remote_path', fields.CharField(max_length=1024)),
                ('service_name', fields.CharField(max_length=255)),
                ('domain', fields.CharField(null=True, max_length=253)),
                ('current_version', fields.CharField(null=True, max_length=128)),
                ('status', fields.CharEnumField(default=AppStatus.IDLE, description='IDLE: idle\nDEPLOYING: deploying\nRUNNING: running\nSTOPPED: stopped\nERROR: error', enum_type=AppStatus, max_length=16)),
            ],
            options={'table': 'apps', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Version',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('version_number', fields.CharField(max_length=128)),
                ('deployment_zip', fields.CharField(null=True, max_length=1024)),
                ('notes', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'versions', 'app': 'models', 'unique_together': (('app', 'version_number'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Deployment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='deployments', on_delete=OnDelete.CASCADE)),
                ('version', fields.ForeignKeyField('models.Version', source_field='version_id', db_constraint=True, to_field='id', related_name='deployments', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=DeploymentStatus.PENDING, description='PENDING: pending\nRUNNING: running\nCOMPLETED: completed\nFAILED: failed\nCANCELLED: cancelled', enum_type=DeploymentStatus, max_length=16)),
                ('logs', fields.TextField(default='', unique=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'deployments', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Task',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('kind', fields.CharEnumField(description='CONNECTION_TEST: connection_test\nSETUP: setup\nPACKAGES: packages\nLOCKDOWN: lockdown\nAUDIT: audit\nSERVICE: service\nDEPLOY: deploy\nROLLBACK: rollback', enum_type=TaskKind, max_length=32)),
                ('status', fields.CharEnumField(default=TaskStatus.QUEUED, description='QUEUED: queued\nRUNNING: running\nSUCCESSFUL: successful\nFAILED: failed\nCANCELLED: cancelled\nTIMEOUT: timeout\nINTERRUPTED: interrupted', enum_type=TaskStatus, max_length=16)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('deployment', fields.ForeignKeyField('models.Deployment', source_field='deployment_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.SET_NULL)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('attempts', fields.IntField(default=0)),
                ('max_attempts', fields.IntField(default=1)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('progress', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tasks', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='TaskEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('counter', fields.IntField()),
                ('event', fields.CharField(max_length=64)),
                ('host', fields.CharField(null=True, max_length=253)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'task_events', 'app': 'models', 'unique_together': (('task', 'counter'),), 'pk_attr': 'id', 'table_description': 'One ansible-runner event of a task, kept for replay (`after=counter`).'},
            bases=['Model'],
        ),
    ]
