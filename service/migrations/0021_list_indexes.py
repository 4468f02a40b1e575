from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0020_task_servers')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='App',
            index=Index(fields=['server_id']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['status', 'id']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['kind', 'id']),
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['app_id', 'id']),
        ),
    ]
