"""What the repair rules know: the tables that map a failure's subject to what provides it.

Kept apart from the rules (``repair.py``) because they grow with every repository probed and
are data, not logic: an import name and its pip package, a header or a linker name and the
Debian package that installs it, a tool, a pytest option or fixture and its plugin.
"""

from __future__ import annotations

# Import name -> the pip package that provides it, where the two differ.
MODULE_PACKAGES: dict[str, str] = {
    "yaml": "PyYAML", "cv2": "opencv-python-headless", "skimage": "scikit-image",
    "sklearn": "scikit-learn", "PIL": "Pillow", "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil", "Crypto": "pycryptodome", "Cryptodome": "pycryptodomex",
    "OpenSSL": "pyOpenSSL", "jwt": "PyJWT", "attr": "attrs", "serial": "pyserial",
    "usb": "pyusb", "magic": "python-magic", "dotenv": "python-dotenv", "git": "GitPython",
    "jose": "python-jose", "docx": "python-docx", "pptx": "python-pptx",
    "Levenshtein": "python-Levenshtein", "mpl_toolkits": "matplotlib", "zmq": "pyzmq",
    "ruamel": "ruamel.yaml", "nacl": "PyNaCl", "gi": "PyGObject", "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary", "snappy": "python-snappy", "fitz": "PyMuPDF",
    "osgeo": "GDAL", "Bio": "biopython", "multipart": "python-multipart",
    "websocket": "websocket-client", "google": "protobuf", "sentencepiece": "sentencepiece",
    "tables": "tables", "win32api": "", "win32com": "", "_pytest": "pytest", "py": "py",
    "faker": "Faker", "markdown": "Markdown", "jinja2": "Jinja2", "lxml": "lxml",
    "pytz": "pytz", "toml": "toml", "tomli": "tomli", "hypothesis": "hypothesis",
    "mock": "mock", "nose": "nose", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas",
    "Cython": "Cython", "pkgconfig": "pkgconfig", "setuptools_scm": "setuptools-scm",
}
# Header -> the Debian (bookworm/bullseye) package that installs it.
HEADER_APT: dict[str, str] = {
    "libxml/xmlversion.h": "libxml2-dev", "libxml/parser.h": "libxml2-dev",
    "libxslt/xslt.h": "libxslt1-dev", "libxslt/xsltconfig.h": "libxslt1-dev",
    "libexslt/exslt.h": "libxslt1-dev", "ffi.h": "libffi-dev", "openssl/ssl.h": "libssl-dev",
    "openssl/opensslv.h": "libssl-dev", "openssl/aes.h": "libssl-dev", "Python.h": "python3-dev",
    "zlib.h": "zlib1g-dev", "yaml.h": "libyaml-dev", "jpeglib.h": "libjpeg-dev",
    "png.h": "libpng-dev", "ft2build.h": "libfreetype6-dev", "hdf5.h": "libhdf5-dev",
    "lzma.h": "liblzma-dev", "bzlib.h": "libbz2-dev", "sqlite3.h": "libsqlite3-dev",
    "mysql.h": "default-libmysqlclient-dev", "libpq-fe.h": "libpq-dev", "gmp.h": "libgmp-dev",
    "mpfr.h": "libmpfr-dev", "mpc.h": "libmpc-dev", "cblas.h": "libopenblas-dev",
    "gssapi/gssapi.h": "libkrb5-dev", "krb5.h": "libkrb5-dev", "curl/curl.h": "libcurl4-openssl-dev",
    "expat.h": "libexpat1-dev", "ncurses.h": "libncurses-dev", "curses.h": "libncurses-dev",
    "readline/readline.h": "libreadline-dev", "sasl/sasl.h": "libsasl2-dev", "ldap.h": "libldap2-dev",
    "geos_c.h": "libgeos-dev", "gdal.h": "libgdal-dev", "proj.h": "libproj-dev",
    "snappy-c.h": "libsnappy-dev", "lz4.h": "liblz4-dev", "zstd.h": "libzstd-dev",
    "xmlsec/xmlsec.h": "libxmlsec1-dev", "cairo.h": "libcairo2-dev",
    "graphviz/cgraph.h": "libgraphviz-dev", "portaudio.h": "portaudio19-dev", "GL/gl.h": "libgl-dev",
    "tiffio.h": "libtiff-dev", "webp/decode.h": "libwebp-dev", "lcms2.h": "liblcms2-dev",
    "openjpeg.h": "libopenjp2-7-dev", "uuid/uuid.h": "uuid-dev", "pcap.h": "libpcap-dev",
    "libusb.h": "libusb-1.0-0-dev", "magic.h": "libmagic-dev", "sndfile.h": "libsndfile1-dev",
    "fftw3.h": "libfftw3-dev", "netcdf.h": "libnetcdf-dev", "zmq.h": "libzmq3-dev",
    "systemd/sd-daemon.h": "libsystemd-dev", "dbus/dbus.h": "libdbus-1-dev",
    "boost/version.hpp": "libboost-dev", "eigen3/Eigen/Core": "libeigen3-dev",
}
# Linker name (-lNAME) -> Debian package; anything else is tried as libNAME-dev.
LIBRARY_APT: dict[str, str] = {
    "xml2": "libxml2-dev", "xslt": "libxslt1-dev", "exslt": "libxslt1-dev", "ssl": "libssl-dev",
    "crypto": "libssl-dev", "ffi": "libffi-dev", "z": "zlib1g-dev", "jpeg": "libjpeg-dev",
    "png": "libpng-dev", "yaml": "libyaml-dev", "bz2": "libbz2-dev", "lzma": "liblzma-dev",
    "sqlite3": "libsqlite3-dev", "pq": "libpq-dev", "blas": "libopenblas-dev",
    "openblas": "libopenblas-dev", "lapack": "liblapack-dev", "gfortran": "gfortran",
    "hdf5": "libhdf5-dev", "freetype": "libfreetype6-dev", "gmp": "libgmp-dev",
    "mysqlclient": "default-libmysqlclient-dev", "curl": "libcurl4-openssl-dev",
    "ncurses": "libncurses-dev", "readline": "libreadline-dev", "uuid": "uuid-dev",
    "stdc++": "build-essential", "m": "build-essential",
}
# A tool that was not found -> what installs it: ("apt", package) or ("pip", requirement).
TOOLS: dict[str, tuple[str, str]] = {
    "gcc": ("apt", "build-essential"), "g++": ("apt", "build-essential"),
    "cc": ("apt", "build-essential"), "c++": ("apt", "build-essential"),
    "make": ("apt", "build-essential"), "pkg-config": ("apt", "pkg-config"),
    "gfortran": ("apt", "gfortran"), "cmake": ("pip", "cmake"), "swig": ("apt", "swig"),
    "cython": ("pip", "Cython"), "rustc": ("apt", "cargo"), "cargo": ("apt", "cargo"),
    "git": ("apt", "git"), "patch": ("apt", "patch"), "autoreconf": ("apt", "autoconf"),
}
# A pytest option (its prefix) or fixture -> the plugin that provides it.
PLUGINS: dict[str, str] = {
    "--benchmark": "pytest-benchmark", "benchmark": "pytest-benchmark", "--cov": "pytest-cov",
    "-n": "pytest-xdist", "--numprocesses": "pytest-xdist", "--dist": "pytest-xdist",
    "--timeout": "pytest-timeout", "--reruns": "pytest-rerunfailures",
    "--asyncio-mode": "pytest-asyncio", "async": "pytest-asyncio", "event_loop": "pytest-asyncio",
    "--mpl": "pytest-mpl", "--randomly": "pytest-randomly",
    "--ds": "pytest-django", "--django": "pytest-django", "--codspeed": "pytest-codspeed",
    "--snapshot-update": "syrupy", "snapshot": "syrupy", "mocker": "pytest-mock",
    "httpserver": "pytest-httpserver", "freezer": "pytest-freezer",
    "requests_mock": "requests-mock", "aiohttp_client": "pytest-aiohttp",
    "--mypy": "pytest-mypy", "--flake8": "pytest-flake8", "--forked": "pytest-forked",
    "--doctest-plus": "pytest-doctestplus", "--remote-data": "pytest-remotedata",
    "--hypothesis": "hypothesis", "--env": "pytest-env", "--instafail": "pytest-instafail",
    "--run-slow": "", "datadir": "pytest-datadir", "shared_datadir": "pytest-datadir",
    "time_machine": "time-machine", "subtests": "pytest-subtests", "monkeypatch": "",
    "--markdown-docs": "pytest-markdown-docs", "--memray": "pytest-memray",
    "--examples": "pytest-examples", "--lsof": "", "--xvfb": "pytest-xvfb",
}
