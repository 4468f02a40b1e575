from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0018_instances')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UnitStatus',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('server', fields.ForeignKeyField('models.Server', source_field='server_id', db_constraint=True, to_field='id', related_name='unit_statuses', on_delete=OnDelete.CASCADE)),
                ('unit', fields.CharField(max_length=255)),
                ('status', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('checked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('task_id', fields.IntField(null=True)),
            ],
            options={'table': 'unit_statuses', 'app': 'models', 'unique_together': (('server', 'unit'),), 'pk_attr': 'id', 'table_description': 'The last state the service saw of one systemd unit on one server: every service run'},
            bases=['Model'],
        ),
    ]
