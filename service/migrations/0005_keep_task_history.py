from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

from service.storage.db import sqlite_foreign_keys


class Migration(migrations.Migration):
    dependencies = [('models', '0004_deployments')]

    initial = False
    atomic = False

    operations = [
        ops.RunPython(sqlite_foreign_keys("OFF"), sqlite_foreign_keys("ON")),
        ops.AlterField(
            model_name='Task',
            name='app',
            field=fields.ForeignKeyField('models.App', source_field='app_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.SET_NULL),
        ),
        ops.AlterField(
            model_name='Task',
            name='server',
            field=fields.ForeignKeyField('models.Server', source_field='server_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.SET_NULL),
        ),
        ops.RunPython(sqlite_foreign_keys("ON"), sqlite_foreign_keys("OFF")),
    ]
