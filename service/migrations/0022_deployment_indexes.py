from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0021_list_indexes')]

    initial = False

    operations = [
        # 0016 rebuilt the tasks table on SQLite (its AlterField of `kind`), which dropped the
        # retry_of index of 0011; the migration state still has it, so it is made again here
        # under its own name (already there on PostgreSQL, which alters in place).
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_tasks_retry_o_4153ce" ON "tasks" ("retry_of_id")',
            reverse_sql=ops.RunSQL.noop,
        ),
        ops.AddIndex(
            model_name='Deployment',
            index=Index(fields=['app_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Deployment',
            index=Index(fields=['status', 'id']),
        ),
        ops.AddIndex(
            model_name='Deployment',
            index=Index(fields=['version_id']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['deployment_id', 'id']),
        ),
    ]
