"""Pure ISO/IEC 7816-4 building blocks: APDUs, status words, BER-TLV. No I/O."""
