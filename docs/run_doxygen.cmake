# Runs Doxygen and fails on any warning: the `docs` target and the api_docs_without_warnings test.
#
#   cmake -DDOXYGEN_EXECUTABLE=doxygen -DDOXYFILE=Doxyfile -DOUTPUT_DIRECTORY=dir \
#         -P run_doxygen.cmake
#
# DOXYFILE is docs/Doxyfile.in configured with OUTPUT_DIRECTORY. Doxygen writes HTML into
# OUTPUT_DIRECTORY/html and XML into OUTPUT_DIRECTORY/xml (both emptied first). The run fails when
# Doxygen exits with an error (WARN_AS_ERROR = FAIL_ON_WARNINGS: after any warning), when it prints
# anything on stderr, or when its XML shows something undocumented that Doxygen 1.9.4 lets pass
# without a warning (an enum value, a member of an undocumented namespace or header, a namespace or
# header itself).
cmake_minimum_required(VERSION 3.22)

foreach(variable IN ITEMS DOXYGEN_EXECUTABLE DOXYFILE OUTPUT_DIRECTORY)
  if(NOT DEFINED ${variable} OR "${${variable}}" STREQUAL "")
    message(FATAL_ERROR "run_doxygen.cmake: pass -D${variable}=...")
  endif()
endforeach()

# No page of an earlier run may stay behind, nor be checked instead of this run's.
file(REMOVE_RECURSE "${OUTPUT_DIRECTORY}/html" "${OUTPUT_DIRECTORY}/xml")
file(MAKE_DIRECTORY "${OUTPUT_DIRECTORY}")

execute_process(
  COMMAND "${DOXYGEN_EXECUTABLE}" "${DOXYFILE}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)

set(failures "")
string(STRIP "${errors}" errors)
if(NOT errors STREQUAL "")
  message(NOTICE "${errors}")
  string(REGEX MATCHALL "(warning|error): " messages "${errors}")
  list(LENGTH messages count)
  list(APPEND failures "Doxygen printed ${count} warning(s) (shown above)")
endif()
if(NOT result EQUAL 0)
  list(APPEND failures "Doxygen exited with ${result}")
endif()

# What Doxygen 1.9.4 lets pass without a warning, read from its XML: undocumented enum values (in
# any scope), members of namespaces, files and groups (Doxygen warns about those only while their
# namespace or file is documented), namespaces and headers. An element is undocumented when its
# brief and its detailed description are both empty.
set(space "[ \t\r\n]*")
set(no_description "<briefdescription>${space}</briefdescription>${space}")
string(APPEND no_description "<detaileddescription>${space}</detaileddescription>")

# "file:line: " of the first <location> in `element`, or "".
function(location_of element out)
  set(where "")
  if(element MATCHES "<location file=\"([^\"]*)\"( line=\"([0-9]*)\")?")
    set(where "${CMAKE_MATCH_1}: ")
    if(CMAKE_MATCH_3)
      set(where "${CMAKE_MATCH_1}:${CMAKE_MATCH_3}: ")
    endif()
  endif()
  set(${out} "${where}" PARENT_SCOPE)
endfunction()

# Appends "file:line: error: `what` is not documented." to `undocumented` (with XML entities
# decoded, so that no ';' splits the list).
macro(add_undocumented where what)
  set(_text "${where}error: ${what} is not documented.")
  string(REPLACE "&lt;" "<" _text "${_text}")
  string(REPLACE "&gt;" ">" _text "${_text}")
  string(REPLACE "&quot;" "\"" _text "${_text}")
  string(REPLACE "&apos;" "'" _text "${_text}")
  string(REPLACE "&amp;" "&" _text "${_text}")
  list(APPEND undocumented "${_text}")
endmacro()

set(initializer "(<initializer>[^<]*</initializer>${space})?")

set(undocumented "")
file(GLOB xml_files "${OUTPUT_DIRECTORY}/xml/*.xml")
if(NOT xml_files)
  list(APPEND failures "no XML in ${OUTPUT_DIRECTORY}/xml to check (GENERATE_XML)")
endif()
foreach(xml_file IN LISTS xml_files)
  file(READ "${xml_file}" xml)
  set(compound_start "<compounddef [^>]*kind=\"([a-z]*)\"[^>]*>${space}")
  if(NOT xml MATCHES "${compound_start}<compoundname>([^<]*)</compoundname>")
    continue()  # index.xml, Doxyfile.xml
  endif()
  set(compound_kind "${CMAKE_MATCH_1}")
  set(compound_name "${CMAKE_MATCH_2}")
  # Its members, one <memberdef> at a time (a member of a file's group is in both XML files).
  set(rest "${xml}")
  while(TRUE)
    string(FIND "${rest}" "<memberdef " start)
    if(start EQUAL -1)
      break()
    endif()
    string(SUBSTRING "${rest}" ${start} -1 rest)
    string(FIND "${rest}" "</memberdef>" end)
    string(SUBSTRING "${rest}" 0 ${end} member)
    string(SUBSTRING "${rest}" ${end} -1 rest)
    if(member MATCHES "^<memberdef [^>]*prot=\"private\"")
      continue()
    endif()
    string(REGEX MATCH "^<memberdef kind=\"([a-z]*)\"" _ "${member}")
    set(kind "${CMAKE_MATCH_1}")
    if(NOT member MATCHES "<qualifiedname>([^<]*)</qualifiedname>")
      string(REGEX MATCH "<name>([^<]*)</name>" _ "${member}")
    endif()
    set(name "${CMAKE_MATCH_1}")
    # Enum values: the enum's location, which follows them.
    string(REGEX REPLACE "<enumvalue .*</enumvalue>" "" own "${member}")
    location_of("${own}" where)
    string(REPLACE ";" "," listable "${member}")  # an entity's ';' would split the list below
    string(REGEX MATCHALL
      "<enumvalue [^>]*>${space}<name>[^<]*</name>${space}${initializer}${no_description}"
      values "${listable}")
    foreach(value IN LISTS values)
      string(REGEX MATCH "<name>([^<]*)</name>" _ "${value}")
      add_undocumented("${where}" "enum value ${CMAKE_MATCH_1} of ${name}")
    endforeach()
    # Class members are Doxygen's to report (it leaves out destructors and defaulted members).
    if(compound_kind MATCHES "^(file|namespace|group)$" AND own MATCHES "${no_description}")
      add_undocumented("${where}" "member ${name} (${kind})")
    endif()
  endwhile()
  # The namespace or header itself.
  if(compound_kind STREQUAL "namespace" OR compound_name MATCHES "\\.(h|hpp)$")
    string(REGEX REPLACE "<sectiondef.*</sectiondef>" "" compound "${xml}")
    location_of("${compound}" where)
    if(NOT where STREQUAL "[generated]:1: " AND compound MATCHES "${no_description}")
      add_undocumented("${where}" "${compound_kind} ${compound_name}")
    endif()
  endif()
endforeach()
if(undocumented)
  list(REMOVE_DUPLICATES undocumented)
  list(SORT undocumented COMPARE NATURAL)
  list(LENGTH undocumented count)
  list(JOIN undocumented "\n" text)
  message(NOTICE "${text}")
  list(APPEND failures "${count} undocumented name(s) in Doxygen's XML (shown above)")
endif()

if(NOT EXISTS "${OUTPUT_DIRECTORY}/html/index.html")
  list(APPEND failures "no ${OUTPUT_DIRECTORY}/html/index.html")
endif()

if(failures)
  list(JOIN failures "; " text)
  message(FATAL_ERROR "API reference: ${text}")
endif()
message(STATUS "API reference without warnings: ${OUTPUT_DIRECTORY}/html/index.html")
