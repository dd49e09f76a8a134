import os

from django.core.wsgi import get_wsgi_application

# Servers and workers run production settings unless told otherwise (make run says dev).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

application = get_wsgi_application()
