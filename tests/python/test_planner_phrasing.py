"""Everyday phrasings the offline planner reads: text patterns in filters, what a count
splits by, the same column on both axes, and sex/gender words over coded data."""
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from anyviz.viz import planner


def run(df, request):
    plan = planner.plan_chart(df, request, frame_name="staff")
    ns = {"df": df, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    return plan, ns["fig"]


def bars(fig) -> dict:
    assert len(fig.data) == 1, f"expected one trace, got {len(fig.data)}"
    t = fig.data[0]
    return dict(zip(list(t.x), list(t.y)))


def staff() -> pd.DataFrame:
    return pd.DataFrame({
        "first_name": ["Adam", "Mia", "Tom", "Sam", "Liz", "Kim", "Omar", "Eve"],
        "department": ["Ops", "Ops", "IT", "IT", "HR", "HR", "Ops", "IT"],
        "address": ["1 Main St, TN", "2 Oak Rd, CA", "3 Elm St, TN", "4 Pine Rd, NY",
                    "5 Ash St, TN", "6 Fir Rd, CA", "7 Yew St, NY", "8 Bay Rd, TN"],
        "sex": ["M", "F", "M", "M", "F", "F", "M", "F"],
        "salary": [100, 200, 300, 400, 500, 600, 700, 800],
    })


def test_does_not_contain_the_letter_excludes_those_rows():
    df = staff()
    plan, fig = run(df, "total salary by department for staff whose first name does not contain the letter M")
    keep = df[~df.first_name.str.contains("m", case=False)]
    assert bars(fig) == keep.groupby("department").salary.sum().to_dict()
    assert plan.spec.color is None  # the filtered column does not also split the bars


def test_contains_without_the_word_letter():
    df = staff()
    _, fig = run(df, "total salary by department for staff whose address contains TN")
    keep = df[df.address.str.contains("TN")]
    assert bars(fig) == keep.groupby("department").salary.sum().to_dict()


def test_quoted_letter_in_their_names_and_includes():
    df = staff()
    expected = df[df.first_name.str.contains("a", case=False)].set_index("first_name").salary.to_dict()
    for request in ("first name and salary of staff with the letter 'a' in their first name",
                    "first name and salary of staff whose first name includes the letter 'a'"):
        plan, fig = run(df, request)
        assert bars(fig) == expected, request
        assert plan.spec.filters[0].op == "contains"


def test_a_lone_name_word_means_the_one_name_column():
    df = staff().rename(columns={"first_name": "name"})
    _, fig = run(df, "count by department of staff whose names start with Om")
    assert bars(fig) == {"Ops": 1}


def test_values_of_a_pattern_filter_label_the_bars():
    df = staff()
    _, fig = run(df, "for staff whose first name ends with the letter m, show their average salary")
    assert bars(fig) == {"Adam": 100, "Tom": 300, "Sam": 400, "Kim": 600}


def test_the_counted_noun_does_not_split_the_bars():
    df = pd.DataFrame({"position": ["GK", "DF", "DF", "FW", "FW", "FW"],
                       "player": ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"]})
    plan, fig = run(df, "show the position of players and the corresponding number of players")
    assert plan.spec.color is None
    assert bars(fig) == {"GK": 1, "DF": 2, "FW": 3}


def test_a_column_held_to_one_value_does_not_split_the_bars():
    df = staff()
    plan, fig = run(df, "count the departments of staff whose sex is 'F'")
    assert plan.spec.color is None
    assert bars(fig) == {"Ops": 1, "HR": 2, "IT": 1}


def test_the_owner_after_of_does_not_split_the_bars():
    df = pd.DataFrame({"result": ["won", "lost", "won", "won"], "festival": ["A", "B", "C", "D"]})
    plan, fig = run(df, "count the results of all festivals")
    assert plan.spec.color is None
    assert bars(fig) == {"won": 3, "lost": 1}


def test_a_column_against_how_many_of_itself_is_a_count():
    df = pd.DataFrame({"location": ["Oslo", "Rome", "Oslo", "Lima", "Oslo"], "score": [1, 2, 3, 4, 5]})
    _, fig = run(df, "bar chart of location versus how many location")
    assert bars(fig) == {"Oslo": 3, "Rome": 1, "Lima": 1}


def test_female_and_male_read_a_coded_sex_column():
    df = staff()
    _, fig = run(df, "average salary of female staff by department")
    assert bars(fig) == df[df.sex == "F"].groupby("department").salary.mean().to_dict()
    _, fig = run(df, "average salary for male and female staff")
    assert bars(fig) == df.groupby("sex").salary.mean().to_dict()


def test_a_named_label_column_beats_the_pattern_filter_column():
    df = staff()
    _, fig = run(df, "first name and salary of staff whose address contains TN")
    keep = df[df.address.str.contains("TN")]
    assert bars(fig) == keep.set_index("first_name").salary.to_dict()


def test_first_name_and_last_name_read_fname_and_lname_columns():
    df = pd.DataFrame({"Fname": ["Ann", "Bo", "Ann", "Cy"], "LName": ["X", "Y", "Z", "X"],
                       "Age": [20, 30, 40, 50]})
    _, fig = run(df, "average age by first name")
    assert bars(fig) == {"Ann": 30, "Bo": 30, "Cy": 50}
    _, fig = run(df, "number of people per last name")
    assert bars(fig) == {"X": 2, "Y": 1, "Z": 1}


def test_after_the_year_of_is_a_later_than_filter():
    df = pd.DataFrame({"type": ["Public", "Private", "Public", "Private"], "founded": [1800, 1860, 1900, 1840],
                       "enrollment": [10, 20, 30, 40]})
    _, fig = run(df, "total enrollment of colleges founded after the year of 1850 for each type")
    assert bars(fig) == {"Private": 20, "Public": 30}


def test_a_column_named_before_the_order_words_orders_the_bars_by_it():
    df = staff()
    df["department"] = ["HR", "HR", "HR", "IT", "IT", "Ops", "HR", "IT"]  # HR 4, IT 3, Ops 1
    for request in ("number of staff in each department, and list department from high to low order",
                    "number of staff in each department, display in descending by the department please"):
        _, fig = run(df, request)
        assert list(fig.data[0].x) == ["Ops", "IT", "HR"], request


def test_order_of_a_column_after_the_order_words():
    df = staff()
    df["salary"] = [900, 900, 1, 1, 1, 1, 900, 1]  # Ops has the most, HR the least
    _, fig = run(df, "total salary of each department in descending order of department")
    assert list(fig.data[0].x) == ["Ops", "IT", "HR"]
    df["salary"] = [1, 1, 900, 900, 1, 1, 1, 900]  # now IT has the most
    _, fig = run(df, "total salary of each department in descending order of department")
    assert list(fig.data[0].x) == ["Ops", "IT", "HR"]


def test_how_many_or_the_number_of_as_sort_target_orders_by_bar_height():
    df = staff()
    df["department"] = ["HR", "HR", "HR", "IT", "IT", "Ops", "HR", "IT"]  # HR 4, IT 3, Ops 1
    for request in ("how many staff in each department, and order by the the number of department in asc",
                    "count staff by department, and show in ascending by the how many department"):
        _, fig = run(df, request)
        assert list(fig.data[0].y) == sorted(fig.data[0].y), request
        assert list(fig.data[0].x) == ["Ops", "IT", "HR"], request


def test_alphabetic_order_of_the_names():
    df = staff()
    _, fig = run(df, "first name and salary of all staff, in alphabetic order of the first name")
    assert list(fig.data[0].x) == sorted(df.first_name)


def test_a_person_noun_reads_the_done_by_column():
    films = pd.DataFrame({"title": ["A", "B", "C", "D"], "film_id": [1, 2, 3, 4],
                          "Directed_by": ["Lee", "Lee", "Kim", "Ray"]})
    plan, fig = run(films, "the number of films for each director")
    assert plan.spec.x == "Directed_by"
    assert bars(fig) == {"Lee": 2, "Kim": 1, "Ray": 1}


def test_each_type_or_category_means_the_one_column_named_so():
    pets = pd.DataFrame({"pet_id": [1, 2, 3, 4], "PetType": ["dog", "cat", "dog", "dog"],
                         "weight": [10.0, 4.0, 20.0, 30.0]})
    plan, fig = run(pets, "average weight of pets in each type")
    assert plan.spec.x == "PetType"
    assert bars(fig) == {"dog": 20.0, "cat": 4.0}
    rooms = pd.DataFrame({"beds": [1, 2, 2, 1], "bed_type": ["king", "queen", "king", "twin"],
                          "product_category": ["a", "b", "a", "a"], "price": [1, 2, 3, 4]})
    plan, fig = run(rooms, "how many rooms for each type of bed")
    assert plan.spec.x == "bed_type"
    assert bars(fig) == {"king": 2, "queen": 1, "twin": 1}
    plan, fig = run(rooms, "the average price for each category")
    assert plan.spec.x == "product_category"


def dogs() -> pd.DataFrame:
    return pd.DataFrame({"name": ["Rex", "Bo", "Max", "Ace"], "abandoned_yn": [1, 0, 1, 0],
                         "weight": [10.0, 12.0, 8.0, 20.0], "age": [3, 50, 70, 20],
                         "prof_high_degree": ["Ph.D.", "MA", "Ph.D.", "MA"],
                         "role": ["Defender", "Keeper", "Defender", "Striker"]})


def test_a_yes_no_column_named_by_its_word_filters_the_rows():
    df = dogs()
    _, fig = run(df, "name and weight of the dogs who have been abandoned")
    assert bars(fig) == {"Rex": 10.0, "Max": 8.0}
    _, fig = run(df, "name and weight of the dogs that were not abandoned")
    assert bars(fig) == {"Bo": 12.0, "Ace": 20.0}


def test_people_under_a_number_means_their_age():
    df = dogs()
    _, fig = run(df, "how many people are under 40 for each role")
    assert bars(fig) == {"Defender": 1, "Striker": 1}


def test_a_value_without_dots_or_in_the_plural():
    df = dogs()
    _, fig = run(df, "name and weight of the dogs with a PhD")
    assert bars(fig) == {"Rex": 10.0, "Max": 8.0}
    _, fig = run(df, "name and weight of the dogs whose roles are defenders")
    assert bars(fig) == {"Rex": 10.0, "Max": 8.0}


def test_ordering_words_are_not_read_as_columns_when_the_second_planner_reads_the_request():
    df = staff()
    plan, fig = run(df, "Give me a histogram for how many staff are there of each department?, "
                        "and rank from high to low by the bar.")
    assert plan.spec.x == "department"
    assert bars(fig) == df.department.value_counts().to_dict()


def test_plot_them_is_not_a_column():
    df = staff()
    _, fig = run(df, "Show the number of male and female staff Plot them as bar chart, and I want to "
                     "display y axis in descending order.")
    assert bars(fig) == {"M": 4, "F": 4}


def test_counting_the_values_named_draws_one_bar_per_value():
    df = staff()
    plan, fig = run(df, "number of male and female staff")
    assert plan.spec.x == "sex"
    assert bars(fig) == {"M": 4, "F": 4}


def test_numbers_with_thousands_commas_and_the_column_after_the_range():
    towns = pd.DataFrame({"town": ["A", "B", "C", "D"], "population": [150_000, 250_000, 1_500_000, 3_000_000]})
    _, fig = run(towns, "town and population of the towns that have between 200,000 and 2,000,000 residents")
    assert bars(fig) == {"B": 250_000, "C": 1_500_000}
    _, fig = run(towns, "town and population of towns whose population is more than 1,000,000")
    assert set(bars(fig)) == {"C", "D"}


def test_whose_id_after_a_noun_means_that_nouns_id():
    logs = pd.DataFrame({"log_id": [1, 2, 3, 4], "problem_id": [10, 10, 7, 10],
                         "log_day": ["Mon", "Tue", "Wed", "Thu"], "minutes": [5, 6, 7, 8]})
    plan, fig = run(logs, "log day and minutes of the logs for the problem whose id is 10")
    assert plan.spec.filters[0].column == "problem_id"
    assert bars(fig) == {"Mon": 5, "Tue": 6, "Thu": 8}


def test_its_amount_means_the_one_amount_column():
    charges = pd.DataFrame({"charge_type": ["food", "room", "spa"], "charge_amount": [20.0, 100.0, 50.0]})
    plan, fig = run(charges, "list each charge type and its amount")
    assert plan.spec.y == "charge_amount"
    assert bars(fig) == {"food": 20.0, "room": 100.0, "spa": 50.0}


def test_the_id_named_first_labels_each_row():
    pets = pd.DataFrame({"PetID": [2001, 2002, 2003], "PetType": ["cat", "dog", "dog"],
                         "pet_age": [3, 2, 1], "weight": [12.0, 13.4, 9.3]})
    plan = planner.plan_chart(pets, "what is the id and weight of every pet who is older than 1?",
                              frame_name="pets")
    assert plan.spec.x == "PetID" and plan.spec.y == "weight"
    ns = {"df": pets, "px": px, "pd": pd, "np": np, "go": go}
    exec(plan.code, ns)
    assert bars(ns["fig"]) == {2001: 12.0, 2002: 13.4}


def countries() -> pd.DataFrame:
    return pd.DataFrame({"country": ["Iceland", "Finland", "France", "Poland", "Spain"],
                         "population": [0.4, 5.5, 68.0, 38.0, 47.0]})


def test_the_name_of_a_thing_with_no_name_column_is_that_things_column():
    df = countries()
    cases = {
        "population of countries whose name contains 'land'": df.country.str.contains("land"),
        "population of countries whose name ends with 'land'": df.country.str.endswith("land"),
        "population for countries with 'land' in their name": df.country.str.contains("land"),
        "population of countries whose names start with F": df.country.str.startswith("F"),
    }
    for request, keep in cases.items():
        _, fig = run(df, request)
        assert bars(fig) == df[keep].set_index("country").population.to_dict(), request



def rooms() -> pd.DataFrame:
    return pd.DataFrame({"RoomId": list("abcdef"),
                         "decor": ["modern", "rustic", "modern", "classic", "rustic", "modern"],
                         "basePrice": [100, 150, 130, 90, 200, 125],
                         "beds": [1, 3, 2, 1, 4, 2]})


def test_a_verb_that_means_a_column_before_a_comparison():
    df = rooms()
    _, fig = run(df, "how many rooms cost more than 120 for each decor")
    assert bars(fig) == df[df.basePrice > 120].groupby("decor").size().to_dict()


def test_the_counted_thing_after_a_compared_number_is_the_column():
    df = rooms()
    _, fig = run(df, "number of rooms by decor for rooms that have more than 1 beds")
    assert bars(fig) == df[df.beds > 1].groupby("decor").size().to_dict()
    # What the number counts must be a number column: "more than 2 rooms" is not a row filter.
    plan, _ = run(df, "number of rooms by decor with more than 2 rooms")
    assert not plan.spec.filters


def test_not_a_few_words_before_a_value_excludes_it():
    df = pd.DataFrame({"Minister": list("abcde"),
                       "Party_name": ["Progress Party", "Labour", "Progress Party", "Green", "Labour"]})
    _, fig = run(df, "Which ministers are not a part of the Progress Party, and count them")
    assert bars(fig) == {"b": 1, "d": 1, "e": 1}


def test_not_before_a_comparison_turns_it_around():
    df = rooms()
    _, fig = run(df, "number of rooms by decor for rooms whose base price is not more than 125")
    assert bars(fig) == df[df.basePrice <= 125].groupby("decor").size().to_dict()
    _, fig = run(df, "number of rooms by decor for rooms whose beds are not above 2")
    assert bars(fig) == df[df.beds <= 2].groupby("decor").size().to_dict()
    # ...and its "not" stays with the comparison, away from a value named later.
    _, fig = run(df, "number of rooms by decor with beds not above 2 for decor modern")
    assert bars(fig) == {"modern": 3}


def test_a_column_called_points_is_not_a_scatter_plot():
    df = pd.DataFrame({"Position": ["G", "F", "G", "C", "F", "G"], "Points": [10, 20, 30, 5, 15, 25]})
    plan, fig = run(df, "For each position, what is the average number of points for players in "
                        "that position. Plot them as bar chart")
    assert plan.spec.chart == "bar"
    assert bars(fig) == df.groupby("Position").Points.mean().to_dict()


def test_number_of_things_counts_them_rather_than_summing_their_numbers():
    df = pd.DataFrame({"train_number": [16724, 16127, 16128, 16723, 12345],
                       "origin": ["Chennai", "Chennai", "Guruvayur", "Trivandrum", "Chennai"]})
    for request in ("number of trains from each origin", "how many trains by origin"):
        _, fig = run(df, request)
        assert bars(fig) == {"Chennai": 3, "Guruvayur": 1, "Trivandrum": 1}, request
    # Named as a column, the identifier is still that column.
    plan, _ = run(df, "total train number by origin")
    assert plan.spec.y == "train_number"
    # A count stored in a column (Number_Deaths) is that column.
    storms = pd.DataFrame({"Name": list("abc"), "Number_Deaths": [3, 0, 7]})
    plan, fig = run(storms, "show me the name and the total number of deaths with a bar chart")
    assert plan.spec.y == "Number_Deaths" and bars(fig) == {"a": 3, "b": 0, "c": 7}


def test_how_old_measures_the_age_column():
    df = pd.DataFrame({"name": list("abcdef"), "age": [20, 30, 40, 50, 25, 35],
                       "job": ["x", "y", "x", "y", "z", "z"]})
    by_job = df.groupby("job").age
    cases = {"how old is the average person for each job?": by_job.mean(),
             "how old is the oldest person in each job": by_job.max(),
             "how old is the youngest person in each job": by_job.min()}
    for request, expected in cases.items():
        _, fig = run(df, request)
        assert bars(fig) == expected.to_dict(), request


def test_a_column_named_as_a_verb_with_its_value():
    df = pd.DataFrame({"LName": ["Kim", "Lee", "Kim", "Roe", "Lee"], "Major": [600, 600, 520, 600, 550]})
    _, fig = run(df, "how many students in each last name who majored in 600")
    assert bars(fig) == {"Kim": 1, "Lee": 1, "Roe": 1}
    _, fig = run(df, "how many students in each last name who are not majoring in 600")
    assert bars(fig) == {"Kim": 1, "Lee": 1}


def test_a_column_named_only_to_pick_rows_is_not_also_a_colour():
    df = pd.DataFrame({"height": [1.0, 2.0, 3.0, 4.0], "prominence": [0.5, 1.5, 2.5, 3.5],
                       "range": ["Aberdare Range", "Alps", "Alps", "Andes"]})
    plan, fig = run(df, "correlation between the height and prominence of mountains which do not "
                        "belong to the range 'Aberdare Range'")
    assert plan.spec.color is None and len(fig.data) == 1
    assert list(fig.data[0].x) == [2.0, 3.0, 4.0]


def test_show_by_the_x_axis_in_desc_orders_the_labels():
    df = staff()
    for request, labels in (
            ("number of staff by department, and I want to show by the x axis in desc", ["Ops", "IT", "HR"]),
            ("number of staff by department, I want to display by the x axis in asc", ["HR", "IT", "Ops"])):
        _, fig = run(df, request)
        assert list(fig.data[0].x) == labels, request


def test_birthdays_are_the_date_of_birth_and_a_kept_value_is_not_a_colour():
    df = pd.DataFrame({"date_of_birth": ["1990-01-02", "1990-01-02", "1985-05-06", "1970-03-04"],
                       "date_became_customer": ["2015-01-01", "2016-01-01", "2017-01-01", "2018-01-01"],
                       "customer_status_code": ["Good Customer", "Good Customer", "Bad Customer",
                                                "Good Customer"]})
    plan, fig = run(df, "When are the birthdays of customers who are classified as 'Good Customer' "
                        "status, and count them by a bar chart")
    assert plan.spec.x == "date_of_birth" and plan.spec.color is None
    assert sum(fig.data[0].y) == 3
