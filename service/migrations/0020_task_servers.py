import json

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


async def fill_task_servers(apps, schema_editor) -> None:
    """A row per server of every task already stored (from its `server_ids`)."""
    client = schema_editor.client
    _, rows = await client.execute_query("SELECT id, server_id, server_ids FROM tasks")
    pairs = set()
    for row in rows:
        ids = row["server_ids"]
        ids = json.loads(ids) if isinstance(ids, str) else ids
        for server_id in ids or ([row["server_id"]] if row["server_id"] else []):
            pairs.add((row["id"], int(server_id)))
    if pairs:
        values = "(?, ?)" if schema_editor.DIALECT == "sqlite" else "($1, $2)"
        insert = f"INSERT INTO task_servers (task_id, server_id) VALUES {values}"
        await client.execute_many(insert, sorted(pairs))


async def nothing(apps, schema_editor) -> None:
    """Dropping the table takes its rows with it."""


class Migration(migrations.Migration):
    dependencies = [('models', '0019_unit_statuses')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TaskServer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='servers', on_delete=OnDelete.CASCADE)),
                ('server_id', fields.IntField()),
            ],
            options={'table': 'task_servers', 'app': 'models', 'unique_together': (('server_id', 'task'),), 'pk_attr': 'id', 'table_description': 'One server a task runs on (its `server_ids`, as rows): what finds the tasks of a server'},
            bases=['Model'],
        ),
        ops.RunPython(fill_task_servers, nothing),
    ]
