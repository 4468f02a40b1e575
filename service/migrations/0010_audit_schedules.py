from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='audit_reports', on_delete=OnDelete.CASCADE)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', null=True, db_constraint=True, to_field='id', related_name='audit_reports', on_delete=OnDelete.SET_NULL)),
                ('finished_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('score', fields.FloatField()),
                ('passed', fields.IntField()),
                ('failed', fields.IntField()),
                ('findings', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('drift', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'audit_reports', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One finished audit of a server: its score and, per finding, whether it passed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditSchedule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('server', fields.OneToOneField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='audit_schedule', on_delete=OnDelete.CASCADE)),
                ('cron', fields.CharField(max_length=100)),
                ('done_through', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_schedules', 'app': 'models', 'pk_attr': 'id', 'table_description': 'When a server is audited by itself: a 5-field cron expression, in UTC.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='FiredOccurrence',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='fired_occurrences', on_delete=OnDelete.CASCADE)),
                ('occurrence', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', null=True, db_constraint=True, to_field='id', related_name='fired_occurrences', on_delete=OnDelete.SET_NULL)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_fired_occurrences', 'app': 'models', 'unique_together': (('server', 'occurrence'),), 'pk_attr': 'id', 'table_description': "One occurrence of a server's schedule that was fired. Inserted before its task is"},
            bases=['Model'],
        ),
    ]
