from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Server',
            name='facts',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Server',
            name='last_connection_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Server',
            name='last_connection_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Server',
            name='last_connection_ok',
            field=fields.BooleanField(null=True),
        ),
        ops.AddField(
            model_name='Task',
            name='last_seq',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Task',
            name='limit_hosts',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Task',
            name='not_before',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Task',
            name='pid',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Task',
            name='retry_of',
            field=fields.ForeignKeyField('models.Task', source_field='retry_of_id', null=True, db_constraint=True, to_field='id', related_name='retries', on_delete=OnDelete.SET_NULL),
        ),
    ]
