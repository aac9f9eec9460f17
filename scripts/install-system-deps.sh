#!/bin/sh
# Install the system packages the test suite needs (Debian/Ubuntu), when root and missing:
# pcscd and vsmartcard-vpcd (the real PC/SC stack with a virtual reader), opensc and
# pcsc-tools (independent clients for cross-checks), swig and libpcsclite-dev (to build
# pyscard, which has no Linux wheels), openssl, iproute2 and util-linux (namespace tools),
# chromium and chromium-driver (the kiosk page's browser tests, through Selenium),
# poppler-utils (pdfsig) and xmlsec1 (cross-checks of document signatures), postgresql (the
# relying-party service's integration tests start a private server), tesseract-ocr with its
# Japanese models and Japanese fonts (card-front OCR and its test images).
set -eu
PACKAGES="pcscd vsmartcard-vpcd opensc pcsc-tools swig libpcsclite-dev openssl iproute2 util-linux procps"
PACKAGES="$PACKAGES chromium chromium-driver"
PACKAGES="$PACKAGES poppler-utils xmlsec1"
PACKAGES="$PACKAGES postgresql"
PACKAGES="$PACKAGES tesseract-ocr tesseract-ocr-jpn tesseract-ocr-script-jpan"
PACKAGES="$PACKAGES fonts-noto-cjk fonts-ipafont-gothic fonts-ipafont-mincho"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing system packages:$missing (run as root, or install them yourself)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
