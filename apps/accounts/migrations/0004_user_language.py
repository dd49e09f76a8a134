from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_store_content_days"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(
                blank=True,
                help_text="of the e-mails we send: set at signup and by the language switch; "
                "empty: the site's default",
                max_length=16,
                verbose_name="language",
            ),
        ),
    ]
