from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from service.models.health import HealthStatus
from service.models.tasks import TaskKind
from tortoise.fields.base import OnDelete
from tortoise import fields

from service.storage.db import sqlite_foreign_keys

class Migration(migrations.Migration):
    dependencies = [('models', '0015_sealed_hook_secrets')]

    initial = False
    atomic = False  # the tasks table is rebuilt on SQLite: foreign keys off around it

    operations = [
        ops.CreateModel(
            name='AppHostHealth',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='host_health', on_delete=OnDelete.CASCADE)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='app_health', on_delete=OnDelete.CASCADE)),
                ('up', fields.BooleanField(null=True)),
                ('changed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('latency_ms', fields.FloatField(null=True)),
                ('error', fields.TextField(null=True, unique=False)),
                ('recent_failures', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'app_host_health', 'app': 'models', 'unique_together': (('app', 'server'),), 'pk_attr': 'id', 'table_description': 'One row per (app, host): what the checker last concluded, and its recent failures.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HealthSample',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='health_samples', on_delete=OnDelete.CASCADE)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='health_samples', on_delete=OnDelete.CASCADE)),
                ('hour', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('checks', fields.IntField(default=0)),
                ('failures', fields.IntField(default=0)),
                ('latency_ms_total', fields.FloatField(default=0)),
            ],
            options={'table': 'app_health_samples', 'app': 'models', 'unique_together': (('app', 'server', 'hour'),), 'pk_attr': 'id', 'table_description': 'Checks of one app on one host in one UTC hour: the uptime is failures over checks.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='App',
            name='health_interval',
            field=fields.IntField(default=30),
        ),
        ops.AddField(
            model_name='App',
            name='health_status',
            field=fields.CharEnumField(null=True, description='RUNNING: running\nDEGRADED: degraded\nDOWN: down', enum_type=HealthStatus, max_length=16),
        ),
        ops.AddField(
            model_name='App',
            name='restart_on_down',
            field=fields.BooleanField(default=False),
        ),
        ops.RunPython(sqlite_foreign_keys("OFF"), sqlite_foreign_keys("ON")),
        ops.AlterField(
            model_name='Task',
            name='kind',
            field=fields.CharEnumField(description='CONNECTION_TEST: connection_test\nSETUP: setup\nPACKAGES: packages\nLOCKDOWN: lockdown\nAUDIT: audit\nSERVICE: service\nDEPLOY: deploy\nROLLBACK: rollback\nRECONCILE: reconcile\nRESTART: restart', enum_type=TaskKind, max_length=32),
        ),
        ops.RunPython(sqlite_foreign_keys("ON"), sqlite_foreign_keys("OFF")),
    ]
