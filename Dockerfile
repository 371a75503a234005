# The Locust image for livelab on Kubernetes (master and workers): Locust's own image plus
# `livelab[worker]` — the locustfile's imports only, no model, media or plots.
#   docker build -t REGISTRY/livelab-worker:0.1.0 .
# The tag of the base image is the Locust version in constraints.txt, so the image runs the
# versions the tests ran. tests/test_deploy.py reads this file: it checks that tag and runs the
# `pip install` line below in a fresh virtualenv, then a real headless Locust run from it.
FROM locustio/locust:2.47.0

USER root
WORKDIR /src/livelab
COPY . .
RUN pip install --no-cache-dir -c constraints.txt '.[worker]'
# A fixed locustfile path: Kubernetes passes arguments without a shell, so no glob such as
# python3*/site-packages would be expanded. The file imports only the installed packages.
RUN cp loadgen/locust/locustfile.py /home/locust/locustfile.py && rm -rf /src/livelab

USER locust
WORKDIR /home/locust
ENV LOCUST_LOCUSTFILE=/home/locust/locustfile.py
