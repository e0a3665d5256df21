/* Placeholder translation unit for a folder library with no sources yet. */
typedef int photon_empty_unit;
