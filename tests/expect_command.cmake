# Runs a command and checks its exit status and what it prints (stdout and stderr together):
#
#   cmake -P expect_command.cmake -- EXIT <status> [MATCH <regex>...] RUN <program> [<arg>...]
#
# Each MATCH regex must match somewhere in the output. On a mismatch the output is shown.
set(words)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND words "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
cmake_parse_arguments(EXPECT "" "EXIT" "MATCH;RUN" ${words})
if(NOT DEFINED EXPECT_EXIT OR NOT EXPECT_RUN)
  message(FATAL_ERROR "usage: cmake -P expect_command.cmake -- EXIT <status> [MATCH <regex>...] "
                      "RUN <program> [<arg>...]")
endif()

execute_process(COMMAND ${EXPECT_RUN} RESULT_VARIABLE status OUTPUT_VARIABLE output
                ERROR_VARIABLE output)
string(REPLACE ";" " " command_text "${EXPECT_RUN}")
set(problems)
if(NOT status STREQUAL EXPECT_EXIT)
  list(APPEND problems "exit status ${status}, expected ${EXPECT_EXIT}")
endif()
foreach(pattern IN LISTS EXPECT_MATCH)
  if(NOT output MATCHES "${pattern}")
    list(APPEND problems "no match for \"${pattern}\"")
  endif()
endforeach()
if(problems)
  string(REPLACE ";" "\n  " problems "${problems}")
  message(FATAL_ERROR "${command_text}:\n  ${problems}\noutput:\n${output}")
endif()
message(STATUS "${command_text}: exit status ${status}; output as expected")
