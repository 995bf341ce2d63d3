# Sourced, not run. cmake_generator DIR: "-G Ninja" when ninja is installed and DIR has not been
# configured yet (a build folder keeps the generator it was made with), nothing otherwise.
cmake_generator() {
  if [ ! -f "$1/CMakeCache.txt" ] && command -v ninja >/dev/null; then echo "-G Ninja"; fi
}
