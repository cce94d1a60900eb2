from setuptools import find_packages, setup

setup(
    name='srv6_ofapp',
    version='0.1.0',
    description='OS-Ken OpenFlow 1.3 controller for SRv6-routed multi-tenant clouds on '
                'Open vSwitch edges, with a Neutron v2.0-compatible REST API',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    # Every subpackage (model, edge, dataplane, store, rest.definitions...):
    # a plain `pip install .` must carry them all, not only an editable one.
    packages=find_packages(include=['srv6_ofapp', 'srv6_ofapp.*', 'topology', 'topology.*',
                                    'rest', 'rest.*']),
    install_requires=[
        'os-ken>=4.0',        # the OpenFlow framework (brings oslo.config, Routes, WebOb)
        'oslo.config',        # CONF, as OS-Ken uses it
        'Routes',             # URL mapping of the REST API
        'WebOb',              # requests and responses of the REST API
        'netaddr',            # addresses, CIDRs, MACs
        'pyroute2',           # netlink for the host dataplane
        'waitress',           # the production WSGI server that serves the API
        'platformdirs',       # the user's data directory for the default store
        'prometheus-client',  # every event a metric, at GET /metrics
        'etcd3gw>=2.6',       # the etcd store: OpenStack's client of etcd's v3 gateway
        'keystonemiddleware',  # auth_strategy keystone: auth_token validates tokens, as in Neutron
    ],
    extras_require={
        # scapy: an independent packet parser; python-openstackclient: the
        # `openstack` CLI, the client users drive the API with; hypothesis:
        # the property-based fuzzing of the REST API.
        'test': ['pytest', 'requests', 'openstacksdk', 'python-openstackclient', 'scapy',
                 'hypothesis'],
    },
    entry_points={
        'console_scripts': ['srv6-ofapp = srv6_ofapp.launcher:run'],
    },
)
