"""Debian packages a Python dependency needs to build or run: the rules table.

A package pinned to its era's date often has no wheel for the Python the env runs (lxml 4.2 on
3.9), so pip builds it from source and needs C headers that no requirement file names. Each
rule says which Debian (bookworm) packages give those headers or libraries, and why, so that
the comment above the drafted ``apt:`` line can say it.
"""

from __future__ import annotations

from dataclasses import dataclass

_BUILD = ("build-essential",)


@dataclass(frozen=True)
class AptRule:
    packages: tuple[str, ...]
    why: str


# Package name (lower case, - for _) -> what its source build or its import needs.
RULES: dict[str, AptRule] = {
    "lxml": AptRule((*_BUILD, "libxml2-dev", "libxslt1-dev"), "lxml builds against libxml2/libxslt"),
    "psycopg2": AptRule((*_BUILD, "libpq-dev"), "psycopg2 builds against libpq"),
    "pillow": AptRule((*_BUILD, "libjpeg-dev", "zlib1g-dev"), "Pillow builds need libjpeg and zlib"),
    "mysqlclient": AptRule((*_BUILD, "default-libmysqlclient-dev", "pkg-config"),
                           "mysqlclient builds against the MySQL client library"),
    "mysql-python": AptRule((*_BUILD, "default-libmysqlclient-dev"),
                            "MySQL-python builds against the MySQL client library"),
    "cryptography": AptRule((*_BUILD, "libssl-dev", "libffi-dev"),
                            "cryptography builds against OpenSSL and libffi"),
    "cffi": AptRule((*_BUILD, "libffi-dev"), "cffi builds against libffi"),
    "pyopenssl": AptRule((*_BUILD, "libssl-dev"), "pyOpenSSL's cryptography needs OpenSSL"),
    "pycurl": AptRule((*_BUILD, "libcurl4-openssl-dev", "libssl-dev"), "pycurl builds against libcurl"),
    "python-snappy": AptRule((*_BUILD, "libsnappy-dev"), "python-snappy builds against libsnappy"),
    "h5py": AptRule((*_BUILD, "libhdf5-dev", "pkg-config"), "h5py builds against HDF5"),
    "tables": AptRule((*_BUILD, "libhdf5-dev"), "PyTables builds against HDF5"),
    "pygraphviz": AptRule((*_BUILD, "graphviz-dev"), "pygraphviz builds against graphviz"),
    "python-ldap": AptRule((*_BUILD, "libldap2-dev", "libsasl2-dev"), "python-ldap builds against OpenLDAP"),
    "xmlsec": AptRule((*_BUILD, "libxmlsec1-dev", "pkg-config"), "xmlsec builds against libxmlsec1"),
    "gssapi": AptRule((*_BUILD, "libkrb5-dev"), "gssapi builds against Kerberos"),
    "pykerberos": AptRule((*_BUILD, "libkrb5-dev"), "pykerberos builds against Kerberos"),
    "pyodbc": AptRule((*_BUILD, "unixodbc-dev"), "pyodbc builds against unixODBC"),
    "shapely": AptRule((*_BUILD, "libgeos-dev"), "Shapely builds against GEOS"),
    "pyproj": AptRule((*_BUILD, "proj-bin", "libproj-dev"), "pyproj builds against PROJ"),
    "pyzmq": AptRule((*_BUILD, "libzmq3-dev"), "pyzmq builds against ZeroMQ"),
    "pycairo": AptRule((*_BUILD, "libcairo2-dev", "pkg-config"), "pycairo builds against cairo"),
    "pygobject": AptRule((*_BUILD, "libgirepository1.0-dev", "libcairo2-dev", "pkg-config"),
                         "PyGObject builds against GObject introspection"),
    "numpy": AptRule(_BUILD, "numpy without a wheel for this Python builds from source"),
    "scipy": AptRule((*_BUILD, "gfortran", "libopenblas-dev", "pkg-config"),
                     "scipy without a wheel builds with Fortran and BLAS"),
    "scikit-learn": AptRule(_BUILD, "scikit-learn without a wheel builds from source"),
    "python-levenshtein": AptRule(_BUILD, "python-Levenshtein builds a C extension"),
    "pyqt5": AptRule(("libgl1", "libegl1", "libxkbcommon0", "libfontconfig1", "libdbus-1-3",
                      "libglib2.0-0"), "Qt's wheels load OpenGL, fontconfig and D-Bus libraries"),
    "pytest-qt": AptRule(("libgl1", "libegl1", "libxkbcommon0", "libfontconfig1", "libdbus-1-3",
                          "libglib2.0-0"), "pytest-qt loads Qt, which loads these libraries"),
    "opencv-python": AptRule(("libgl1", "libglib2.0-0"), "OpenCV's wheels load libGL and glib"),
    "python-magic": AptRule(("libmagic1",), "python-magic loads libmagic at import"),
}


def apt_for(names: set[str]) -> tuple[list[str], list[str]]:
    """Debian packages for these requirement names, and a reason per rule that fired."""
    packages: list[str] = []
    reasons: list[str] = []
    for name in sorted(names):
        rule = RULES.get(name.lower().replace("_", "-"))
        if rule is None or not rule.packages:
            continue
        packages += [p for p in rule.packages if p not in packages]
        reasons.append(rule.why)
    return packages, reasons
